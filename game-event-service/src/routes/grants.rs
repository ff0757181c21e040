//! Grants as jobs (OPERATOR, ADMIN) and the jobs' progress (staff).
use super::events::{require_manager, require_staff};
use super::lookup::load_visible;
use super::{json, resource};
use crate::audit::{record, Change};
use crate::auth::Identity;
use crate::domain::audit::EntityType;
use crate::domain::grant::{GrantRequest, Job, MAX_GRANT_USERS};
use crate::domain::JobId;
use crate::error::ApiError;
use crate::extract::{path_id, BodyLimit, ValidJson};
use crate::idempotency::{try_processing, IdempotencyKey, NextAction};
use crate::state::AppState;
use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use paperclip::actix::{api_v2_operation, web};

/// 10,000 ids of up to 128 characters, quoted and separated, and a reason.
const GRANTS_BODY_LIMIT: usize = 1_400_000;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/events/{id}/grants")
            .app_data(BodyLimit(GRANTS_BODY_LIMIT))
            .route(web::post().to(create_grant)),
    )
    .service(resource("/jobs/{id}").route(web::get().to(get_job)));
}

/// Give listed users an APPROVED claim (`source: GRANT`) without evaluating conditions: at
/// most one per user and period, within the stock unless `ignoreStock`. Runs as a job: 202
/// with `Location: /jobs/{id}`. `Idempotency-Key` replays the first answer.
#[api_v2_operation(tags(Claims))]
pub async fn create_grant(
    state: web::Data<AppState>,
    id: Identity,
    req: HttpRequest,
    path: web::Path<String>,
    body: ValidJson<GrantRequest>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let key = IdempotencyKey::from_request(&req)
        .map_err(|f| ApiError::InvalidField(f.field, f.message))?;
    let event = load_visible(&state, &id, &path).await?;
    let (users, reason, ignore_stock) = body.0.validated().map_err(ApiError::Validation)?;
    debug_assert!(users.len() <= MAX_GRANT_USERS);
    let start = || async {
        let job = Job::grant(
            event.id.clone(),
            users.len(),
            reason.clone(),
            ignore_stock,
            id.user_id.clone(),
            chrono::Utc::now(),
        );
        state.store.insert_job(&job, &users).await?;
        state.grants_wakeup.notify_one();
        let change = Change::new("grant.created", EntityType::Job, job.id.as_str()).after(&job);
        record(&state, &id, change).await;
        Ok::<_, ApiError>(job_response(StatusCode::ACCEPTED, &job))
    };
    let Some(key) = key else {
        return start().await;
    };
    let redis_key =
        state
            .settings
            .redis_key(&format!("idem:{{{}}}:grants:{}", id.user_id, key.as_str()));
    let scope = format!("grants:{}", event.id);
    match try_processing(&state.redis, redis_key, &scope, &state.logger).await? {
        NextAction::ReturnSavedResponse(saved) => Ok(saved),
        NextAction::StartProcessing(None) => start().await,
        NextAction::StartProcessing(Some(in_flight)) => match start().await {
            Ok(res) => Ok(in_flight.save(res).await),
            Err(e) => {
                in_flight.abandon().await;
                Err(e)
            }
        },
    }
}

fn job_response(status: StatusCode, job: &Job) -> HttpResponse {
    let mut r = json(status, job);
    if let Ok(v) = HeaderValue::from_str(&format!("/jobs/{}", job.id)) {
        r.headers_mut().insert(LOCATION, v);
    }
    r
}

/// A job's progress: `{id, status: QUEUED | RUNNING | DONE | FAILED, total, done, skipped,
/// failed}` (staff).
#[api_v2_operation(tags(Claims))]
pub async fn get_job(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&id)?;
    let job_id = path_id(&path, JobId::parse)?;
    match state.store.get_job(&job_id).await? {
        Some(job) => Ok(json(StatusCode::OK, &job)),
        None => Err(ApiError::NotFound("job not found".into())),
    }
}

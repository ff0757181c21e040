//! Progress views and ADMIN activity recording.
use super::{json, resource};
use crate::auth::Identity;
use crate::domain::activity::{ActivityInput, Source};
use crate::domain::UserId;
use crate::error::ApiError;
use crate::extract::{path_id, Query, TimeZone, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::{Deserialize, Serialize};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/progress/me").route(web::get().to(my_progress)))
        .service(resource("/users/{id}/progress").route(web::get().to(user_progress)))
        .service(resource("/activities").route(web::post().to(record_activity)));
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct KeyProgress {
    pub key: String,
    pub total: i64,
    pub max: i64,
    pub count: i64,
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub user_id: UserId,
    pub timezone: String,
    pub keys: Vec<KeyProgress>,
    pub login_days: Vec<String>,
}

/// Query parameters of the progress routes.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ProgressParams {
    /// IANA zone for the login-day boundaries (default UTC).
    timezone: Option<TimeZone>,
}

async fn progress_of(
    state: &AppState,
    user_id: &UserId,
    q: &ProgressParams,
) -> Result<HttpResponse, ApiError> {
    let tz = q.timezone.as_ref().map_or(chrono_tz::UTC, |t| t.0);
    let (totals, days) = state.store.progress_of(user_id, tz).await?;
    Ok(json(
        StatusCode::OK,
        &Progress {
            user_id: user_id.clone(),
            timezone: tz.name().to_string(),
            keys: totals
                .into_iter()
                .map(|t| KeyProgress {
                    key: t.key,
                    total: t.total,
                    max: t.max,
                    count: t.count,
                })
                .collect(),
            login_days: days.into_iter().map(|d| d.to_string()).collect(),
        },
    ))
}

/// The caller's progress: each key's total and the login days.
#[api_v2_operation(tags(Progress))]
pub async fn my_progress(
    state: web::Data<AppState>,
    id: Identity,
    q: Query<ProgressParams>,
) -> Result<HttpResponse, ApiError> {
    progress_of(&state, &id.user_id, &q.0).await
}

/// A user's progress (that user, or staff).
#[api_v2_operation(tags(Progress))]
pub async fn user_progress(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    q: Query<ProgressParams>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path_id(&path, UserId::parse)?;
    if user_id != id.user_id && !id.roles.is_staff() {
        return Err(ApiError::Forbidden(
            "only the user or staff may read this progress".into(),
        ));
    }
    progress_of(&state, &user_id, &q.0).await
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecorded {
    pub id: String,
    /// false when a record with this id had already been applied.
    pub applied: bool,
}

/// Record an activity (ADMIN; past `occurredAt` allowed for backfills). Applied once per id.
/// The user must be known from auth-service's `user.registered` (422 naming `userId` otherwise),
/// the same rule as for `game.activity` messages.
#[api_v2_operation(tags(Progress))]
pub async fn record_activity(
    state: web::Data<AppState>,
    id: Identity,
    body: ValidJson<ActivityInput>,
) -> Result<HttpResponse, ApiError> {
    if !id.roles.is_admin() {
        return Err(ApiError::Forbidden("ADMIN role required".into()));
    }
    let a = body
        .0
        .into_activity(Source::Admin)
        .map_err(|f| ApiError::Validation(vec![f]))?;
    if !state.store.is_known_user(&a.user_id).await? {
        return Err(ApiError::Validation(vec![crate::domain::FieldError::new(
            "userId",
            "is not a registered user (no user.registered received for it)",
        )]));
    }
    let applied = state.store.insert_activity(&a).await?;
    if applied {
        let change = crate::audit::Change::new(
            "activity.recorded",
            crate::domain::audit::EntityType::Activity,
            a.id.as_str(),
        )
        .after(&serde_json::json!({
            "userId": a.user_id, "key": a.key, "value": a.value, "occurredAt": a.occurred_at,
        }));
        crate::audit::record(&state, &id, change).await;
    }
    state
        .metrics
        .activities
        .with_label_values(&["http", if applied { "applied" } else { "duplicate" }])
        .inc();
    let status = if applied {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json(status, &ActivityRecorded { id: a.id, applied }))
}

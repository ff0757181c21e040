//! Progress views and ADMIN activity recording.
use super::json;
use crate::auth::Identity;
use crate::domain::activity::{ActivityInput, Source};
use crate::error::ApiError;
use crate::extract::{path_id, QueryParams, ValidJson};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use paperclip::actix::{api_v2_operation, Apiv2Schema};
use serde::Serialize;

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
    pub user_id: String,
    pub timezone: String,
    pub keys: Vec<KeyProgress>,
    pub login_days: Vec<String>,
}

/// Query parameters of the progress routes (documentation only).
#[derive(serde::Deserialize, Apiv2Schema)]
#[allow(dead_code)]
pub struct ProgressParams {
    /// IANA zone for the login-day boundaries (default UTC).
    timezone: Option<String>,
}

async fn progress_of(
    state: &AppState,
    user_id: &str,
    q: &QueryParams<ProgressParams>,
) -> Result<HttpResponse, ApiError> {
    q.allow_only(&["timezone"])?;
    let tz_name = q.str("timezone").unwrap_or("UTC").to_string();
    let tz: chrono_tz::Tz = tz_name.parse().map_err(|_| {
        ApiError::InvalidQuery("timezone".into(), "must be an IANA time zone".into())
    })?;
    let (totals, days) = state.store.progress_of(user_id, tz).await?;
    Ok(json(
        StatusCode::OK,
        &Progress {
            user_id: user_id.to_string(),
            timezone: tz_name,
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
    q: QueryParams<ProgressParams>,
) -> Result<HttpResponse, ApiError> {
    progress_of(&state, &id.user_id, &q).await
}

/// A user's progress (that user, or staff).
#[api_v2_operation(tags(Progress))]
pub async fn user_progress(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    q: QueryParams<ProgressParams>,
) -> Result<HttpResponse, ApiError> {
    let user_id = path_id(&path)?;
    if user_id != id.user_id && !id.roles.is_staff() {
        return Err(ApiError::Forbidden(
            "only the user or staff may read this progress".into(),
        ));
    }
    progress_of(&state, &user_id, &q).await
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct ActivityRecorded {
    pub id: String,
    /// false when a record with this id had already been applied.
    pub applied: bool,
}

/// Record an activity (ADMIN; past `occurredAt` allowed for backfills). Applied once per id.
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
    let applied = state.store.insert_activity(&a).await?;
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

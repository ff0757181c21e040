//! An event's rewards.
use super::events::{event_response, modify_latest_from, require_manager};
use super::lookup::{event_id, load_visible};
use super::{json, resource, ListResponse};
use crate::audit::{record, Change};
use crate::auth::Identity;
use crate::domain::audit::EntityType;
use crate::domain::event::Reward;
use crate::error::ApiError;
use crate::extract::ValidJson;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::Utc;
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/events/{id}/rewards")
            .route(web::get().to(list_rewards))
            .route(web::post().to(add_reward)),
    );
}

/// The event's rewards.
#[api_v2_operation(tags(Events))]
pub async fn list_rewards(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let e = load_visible(&state, &id, &path).await?;
    Ok(json(
        StatusCode::OK,
        &ListResponse::page(e.rewards, false, None),
    ))
}

/// Add a reward to the event (OPERATOR, ADMIN); answers the updated event.
#[api_v2_operation(tags(Events))]
pub async fn add_reward(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    body: ValidJson<Reward>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let reward = body.0;
    let now = Utc::now();
    let (before, e) = modify_latest_from(&state, &event_id(&path)?, |e| {
        e.with_reward(reward.clone(), now)
    })
    .await?;
    let change = Change::new("event.reward_added", EntityType::Event, e.id.as_str())
        .before(&before)
        .after(&e);
    record(&state, &id, change).await;
    Ok(event_response(StatusCode::CREATED, &e))
}

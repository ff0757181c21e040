//! Segments and their members (staff).
use super::events::{require_manager, require_staff};
use super::{json, page_of, resource, ListResponse};
use crate::audit::{record, Change};
use crate::auth::Identity;
use crate::domain::audit::EntityType;
use crate::domain::ids::{valid_id, SegmentId};
use crate::domain::segment::{MemberIds, NewSegment, Segment};
use crate::error::ApiError;
use crate::extract::{path_id, BodyLimit, Cursor, Limit, Page, Query, ValidJson};
use crate::state::AppState;
use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::Utc;
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::{Deserialize, Deserializer, Serialize};

/// 10,000 ids of up to 128 characters, quoted and separated.
const MEMBERS_BODY_LIMIT: usize = 1_400_000;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/segments")
            .route(web::get().to(list_segments))
            .route(web::post().to(create_segment)),
    )
    .service(resource("/segments/{id}").route(web::get().to(get_segment)))
    .service(
        resource("/segments/{id}/members")
            .app_data(BodyLimit(MEMBERS_BODY_LIMIT))
            .route(web::get().to(list_members))
            .route(web::post().to(add_members))
            .route(web::delete().to(remove_members)),
    );
}

async fn load_segment(state: &AppState, raw: &str) -> Result<Segment, ApiError> {
    let id = path_id(raw, SegmentId::parse)?;
    state
        .store
        .get_segment(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound("segment not found".into()))
}

/// Create a segment (OPERATOR, ADMIN).
#[api_v2_operation(tags(Segments))]
pub async fn create_segment(
    state: web::Data<AppState>,
    id: Identity,
    body: ValidJson<NewSegment>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let s = Segment::create(body.0, SegmentId::mint(), id.user_id.clone(), Utc::now())
        .map_err(ApiError::Validation)?;
    state.store.insert_segment(&s).await?;
    let change = Change::new("segment.created", EntityType::Segment, s.id.as_str()).after(&s);
    record(&state, &id, change).await;
    let mut r = json(StatusCode::CREATED, &s);
    if let Ok(v) = HeaderValue::from_str(&format!("/segments/{}", s.id)) {
        r.headers_mut().insert(LOCATION, v);
    }
    Ok(r)
}

/// Query parameters of `GET /segments`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct SegmentListParams {
    limit: Option<Limit>,
    cursor: Option<Cursor>,
}

/// Segments, newest first (staff).
#[api_v2_operation(tags(Segments))]
pub async fn list_segments(
    state: web::Data<AppState>,
    id: Identity,
    q: Query<SegmentListParams>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&id)?;
    let page = Page::new(q.0.limit, q.0.cursor);
    let items = state
        .store
        .list_segments(page.cursor.as_deref(), page.limit)
        .await?;
    Ok(json(
        StatusCode::OK,
        &page_of(items, page.limit, |s| s.id.to_string()),
    ))
}

/// One segment with its member count (staff).
#[api_v2_operation(tags(Segments))]
pub async fn get_segment(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&id)?;
    let mut segment = load_segment(&state, &path).await?;
    segment.member_count = Some(state.store.count_members(&segment.id).await?);
    Ok(json(StatusCode::OK, &segment))
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct MembersAdded {
    /// Newly added.
    pub added: u64,
    /// Listed but already members (adding is idempotent).
    pub already_members: u64,
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct MembersRemoved {
    pub removed: u64,
}

/// Add up to 10,000 members (OPERATOR, ADMIN); adding a member twice changes nothing.
#[api_v2_operation(tags(Segments))]
pub async fn add_members(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    body: ValidJson<MemberIds>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let users = body.0.validated().map_err(ApiError::Validation)?;
    let segment = load_segment(&state, &path).await?;
    let added = state.store.add_members(&segment.id, &users).await?;
    let change = Change::new(
        "segment.members_added",
        EntityType::Segment,
        segment.id.as_str(),
    )
    .after(&serde_json::json!({"userIds": users, "added": added}));
    record(&state, &id, change).await;
    Ok(json(
        StatusCode::OK,
        &MembersAdded {
            added,
            already_members: users.len() as u64 - added,
        },
    ))
}

/// Remove up to 10,000 members (OPERATOR, ADMIN).
#[api_v2_operation(tags(Segments))]
pub async fn remove_members(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    body: ValidJson<MemberIds>,
) -> Result<HttpResponse, ApiError> {
    require_manager(&id)?;
    let users = body.0.validated().map_err(ApiError::Validation)?;
    let segment = load_segment(&state, &path).await?;
    let removed = state.store.remove_members(&segment.id, &users).await?;
    let change = Change::new(
        "segment.members_removed",
        EntityType::Segment,
        segment.id.as_str(),
    )
    .before(&serde_json::json!({"userIds": users, "removed": removed}));
    record(&state, &id, change).await;
    Ok(json(StatusCode::OK, &MembersRemoved { removed }))
}

/// `cursor` of the members list: the last user id of the previous page.
#[derive(Debug, Clone)]
pub struct MemberCursor(String);

impl<'de> Deserialize<'de> for MemberCursor {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use base64::Engine;
        let s = String::deserialize(d)?;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&s)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("m1:").map(str::to_owned))
            .filter(|u| valid_id(u))
            .map(MemberCursor)
            .ok_or_else(|| serde::de::Error::custom("is malformed"))
    }
}

impl paperclip::v2::schema::TypedData for MemberCursor {
    fn data_type() -> paperclip::v2::models::DataType {
        paperclip::v2::models::DataType::String
    }
}

fn member_cursor(last_user: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("m1:{last_user}"))
}

/// Query parameters of `GET /segments/{id}/members`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct MemberListParams {
    limit: Option<Limit>,
    cursor: Option<MemberCursor>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    pub user_id: crate::domain::UserId,
}

/// Members in user id order (staff), paginated.
#[api_v2_operation(tags(Segments))]
pub async fn list_members(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    q: Query<MemberListParams>,
) -> Result<HttpResponse, ApiError> {
    require_staff(&id)?;
    let segment = load_segment(&state, &path).await?;
    let limit = q.0.limit.map_or(20, |l| l.0);
    let users = state
        .store
        .list_members(
            &segment.id,
            q.0.cursor.as_ref().map(|c| c.0.as_str()),
            limit,
        )
        .await?;
    let next_cursor = (users.len() as i64 == limit)
        .then(|| users.last().map(|u| member_cursor(u.as_str())))
        .flatten();
    let items = users
        .into_iter()
        .map(|user_id| Member { user_id })
        .collect();
    Ok(json(StatusCode::OK, &ListResponse { items, next_cursor }))
}

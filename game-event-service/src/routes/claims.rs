//! Claim requests and claim history.
use super::{json, page_of};
use crate::auth::Identity;
use crate::domain::claim::{Claim, ClaimStatus};
use crate::error::ApiError;
use crate::extract::{path_id, QueryParams};
use crate::state::AppState;
use crate::store::claims::{ClaimFilter, LockOutcome};
use actix_web::http::header::{HeaderValue, LOCATION};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use deadpool_redis::redis::AsyncCommands;
use paperclip::actix::api_v2_operation;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const IDEMPOTENCY_TTL_SECONDS: u64 = 24 * 3600;
const MAX_WAIT_SECONDS: u64 = 10;

/// What an Idempotency-Key remembers: the request it was used for and, once done, the response.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdempotencyRecord {
    event_id: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else {
        return Ok(None);
    };
    let s = v.to_str().unwrap_or("");
    if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::InvalidField(
            "Idempotency-Key".into(),
            "must be 1 to 255 visible ASCII characters".into(),
        ));
    }
    Ok(Some(s.to_string()))
}

/// `Prefer: wait=N` (RFC 7240), capped at 10 seconds.
fn prefer_wait(req: &HttpRequest) -> Option<u64> {
    let v = req.headers().get("prefer")?.to_str().ok()?;
    v.split([',', ';'])
        .filter_map(|p| p.trim().strip_prefix("wait="))
        .filter_map(|n| n.trim().parse::<u64>().ok())
        .next()
        .map(|n| n.min(MAX_WAIT_SECONDS))
}

fn claim_response(status: StatusCode, claim: &Claim, location: bool) -> HttpResponse {
    let mut r = json(status, claim);
    if location {
        if let Ok(v) = HeaderValue::from_str(&format!("/claims/{}", claim.id)) {
            r.headers_mut().insert(LOCATION, v);
        }
    }
    r
}

fn replay(rec: &IdempotencyRecord) -> HttpResponse {
    let status = StatusCode::from_u16(rec.status.unwrap_or(202)).unwrap_or(StatusCode::ACCEPTED);
    let ct = if status.is_success() {
        "application/json"
    } else {
        "application/problem+json"
    };
    let mut b = HttpResponse::build(status);
    b.content_type(ct)
        .insert_header(("Idempotency-Replayed", "true"));
    if let Some(l) = &rec.location {
        b.insert_header((LOCATION, l.as_str()));
    }
    b.body(rec.body.clone().unwrap_or_default())
}

async fn response_body(res: HttpResponse) -> (HttpResponse, IdempotencyRecord) {
    let status = res.status();
    let location = res
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let headers = res.headers().clone();
    let body = actix_web::body::to_bytes(res.into_body())
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let mut rebuilt = HttpResponse::build(status);
    for (k, v) in headers.iter() {
        rebuilt.insert_header((k.clone(), v.clone()));
    }
    (
        rebuilt.body(body.clone()),
        IdempotencyRecord {
            event_id: String::new(),
            status: Some(status.as_u16()),
            body: Some(body),
            location,
        },
    )
}

/// Request a reward (USER, ADMIN): 202 once the claim is durably stored; a worker decides it.
#[api_v2_operation(tags(Claims))]
pub async fn create_claim(
    state: web::Data<AppState>,
    id: Identity,
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    if !id.roles.can_claim() {
        return Err(ApiError::Forbidden(
            "USER or ADMIN role required to claim".into(),
        ));
    }
    let idem = idempotency_key(&req)?;
    let event = super::events::load_visible(&state, &id, &path).await?;

    let Some(key) = idem else {
        return submit(&state, &id, &req, &event).await;
    };
    let redis_key = state.redis_key(&format!("idem:{}:{}", id.user_id, key));
    // Redis holds only what may be lost: without it the claim is still accepted, and a retry is
    // answered by the claim lock (409 with the existing claim) instead of a replay.
    let mut conn = match state.redis.get().await {
        Ok(conn) => conn,
        Err(e) => return submit_without_idempotency(&state, &id, &req, &event, e).await,
    };
    let pending = serde_json::to_string(&IdempotencyRecord {
        event_id: event.id.clone(),
        status: None,
        body: None,
        location: None,
    })
    .unwrap_or_default();
    let claimed: bool = match deadpool_redis::redis::cmd("SET")
        .arg(&redis_key)
        .arg(&pending)
        .arg("NX")
        .arg("EX")
        .arg(IDEMPOTENCY_TTL_SECONDS)
        .query_async::<Option<String>>(&mut conn)
        .await
    {
        Ok(set) => set.is_some(),
        Err(e) => return submit_without_idempotency(&state, &id, &req, &event, e).await,
    };
    if !claimed {
        // Same key seen before: replay its response (waiting briefly if it is still in flight).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let raw: Option<String> = conn
                .get(&redis_key)
                .await
                .map_err(|_| ApiError::ServiceUnavailable("redis".into()))?;
            let Some(rec) = raw.and_then(|r| serde_json::from_str::<IdempotencyRecord>(&r).ok())
            else {
                return Err(ApiError::Conflict(
                    "request with this Idempotency-Key expired; retry".into(),
                ));
            };
            if rec.event_id != event.id {
                return Err(ApiError::IdempotencyKeyReused);
            }
            if rec.status.is_some() {
                return Ok(replay(&rec));
            }
            if Instant::now() > deadline {
                return Err(ApiError::Conflict(
                    "a request with this Idempotency-Key is still in progress".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    // A stored claim and a 409 with the existing claim are both final answers worth replaying.
    let res = match submit(&state, &id, &req, &event).await {
        Ok(res) => res,
        Err(e @ ApiError::ClaimExists(_)) => actix_web::ResponseError::error_response(&e),
        Err(e) => {
            // Nothing was decided: let the client retry with the same key.
            let _: Result<(), _> = conn.del(&redis_key).await;
            return Err(e);
        }
    };
    let (res, mut rec) = response_body(res).await;
    rec.event_id = event.id.clone();
    let _: Result<(), _> = conn
        .set_ex(
            &redis_key,
            serde_json::to_string(&rec).unwrap_or_default(),
            IDEMPOTENCY_TTL_SECONDS,
        )
        .await;
    Ok(res)
}

async fn submit_without_idempotency(
    state: &AppState,
    id: &Identity,
    req: &HttpRequest,
    event: &crate::domain::event::Event,
    error: impl std::fmt::Display,
) -> Result<HttpResponse, ApiError> {
    slog::warn!(state.logger, "redis unavailable; claim accepted without Idempotency-Key replay";
        "error" => error.to_string());
    submit(state, id, req, event).await
}

async fn submit(
    state: &AppState,
    id: &Identity,
    req: &HttpRequest,
    event: &crate::domain::event::Event,
) -> Result<HttpResponse, ApiError> {
    let claim = Claim {
        id: crate::domain::new_id(),
        event_id: event.id.clone(),
        user_id: id.user_id.clone(),
        status: ClaimStatus::Pending,
        reason: None,
        progress: None,
        rewards: event.rewards.clone(),
        requested_at: chrono::Utc::now(),
        decided_at: None,
    };
    match state
        .store
        .acquire_claim_lock(&event.id, &id.user_id, &claim.id)
        .await?
    {
        LockOutcome::Acquired => {}
        LockOutcome::Busy => {
            return Err(ApiError::Conflict(
                "another claim request for this event is in progress".into(),
            ));
        }
        LockOutcome::Held(existing) => {
            state
                .metrics
                .claims_requested
                .with_label_values(&["exists"])
                .inc();
            return Err(ApiError::ClaimExists(Box::new(
                serde_json::to_value(&existing).unwrap_or_default(),
            )));
        }
    }
    if let Err(e) = state.store.insert_claim(&claim).await {
        let _ = state
            .store
            .release_claim_lock(&event.id, &id.user_id, &claim.id)
            .await;
        return Err(e.into());
    }
    state
        .metrics
        .claims_requested
        .with_label_values(&["accepted"])
        .inc();
    // Stored first, published second: if this publish fails the sweeper republishes it.
    if let Err(e) = crate::worker::publish_claim(state, &claim.id).await {
        slog::warn!(state.logger, "claim publish failed; sweeper will retry";
            "claimId" => &claim.id, "error" => e.to_string());
    }
    if let Some(wait) = prefer_wait(req) {
        let deadline = Instant::now() + Duration::from_secs(wait);
        let applied = format!("wait={wait}");
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if let Some(c) = state.store.get_claim(&claim.id).await? {
                if c.status != ClaimStatus::Pending {
                    let mut r = claim_response(StatusCode::OK, &c, true);
                    if let Ok(v) = HeaderValue::from_str(&applied) {
                        r.headers_mut().insert(
                            actix_web::http::header::HeaderName::from_static("preference-applied"),
                            v,
                        );
                    }
                    return Ok(r);
                }
            }
        }
    }
    Ok(claim_response(StatusCode::ACCEPTED, &claim, true))
}

/// One claim (its owner or staff).
#[api_v2_operation(tags(Claims))]
pub async fn get_claim(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let claim_id = path_id(&path)?;
    match state.store.get_claim(&claim_id).await? {
        Some(c) if c.user_id == id.user_id || id.roles.is_staff() => {
            Ok(claim_response(StatusCode::OK, &c, false))
        }
        _ => Err(ApiError::NotFound("claim not found".into())),
    }
}

/// Query parameters of `GET /claims` (documentation only).
#[derive(Deserialize, paperclip::actix::Apiv2Schema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct ClaimListParams {
    event_id: Option<String>,
    user_id: Option<String>,
    status: Option<ClaimStatus>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

/// Query parameters of `GET /claims/me` (documentation only).
#[derive(Deserialize, paperclip::actix::Apiv2Schema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct MyClaimParams {
    event_id: Option<String>,
    status: Option<ClaimStatus>,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    limit: Option<i64>,
    cursor: Option<String>,
}

fn claim_filter<D>(q: &QueryParams<D>, allow_user: bool) -> Result<ClaimFilter, ApiError> {
    let f = ClaimFilter {
        event_id: q.id("eventId")?,
        user_id: if allow_user { q.id("userId")? } else { None },
        status: q.parse_enum("status")?,
        from: q.datetime("from")?,
        to: q.datetime("to")?,
    };
    if let (Some(a), Some(b)) = (f.from, f.to) {
        if a > b {
            return Err(ApiError::InvalidQuery(
                "to".into(),
                "must not be before from".into(),
            ));
        }
    }
    Ok(f)
}

/// The caller's own claims, newest first.
#[api_v2_operation(tags(Claims))]
pub async fn my_claims(
    state: web::Data<AppState>,
    id: Identity,
    q: QueryParams<MyClaimParams>,
) -> Result<HttpResponse, ApiError> {
    q.allow_only(&["eventId", "status", "from", "to", "limit", "cursor"])?;
    let page = q.page()?;
    let mut f = claim_filter(&q, false)?;
    f.user_id = Some(id.user_id.clone());
    let items = state
        .store
        .list_claims(&f, page.cursor.as_deref(), page.limit)
        .await?;
    Ok(json(
        StatusCode::OK,
        &page_of(items, page.limit, |c| c.id.clone()),
    ))
}

/// Everyone's claims (OPERATOR, AUDITOR, ADMIN), newest first.
#[api_v2_operation(tags(Claims))]
pub async fn list_claims(
    state: web::Data<AppState>,
    id: Identity,
    q: QueryParams<ClaimListParams>,
) -> Result<HttpResponse, ApiError> {
    if !id.roles.is_staff() {
        return Err(ApiError::Forbidden(
            "OPERATOR, AUDITOR or ADMIN role required".into(),
        ));
    }
    q.allow_only(&[
        "eventId", "userId", "status", "from", "to", "limit", "cursor",
    ])?;
    let page = q.page()?;
    let f = claim_filter(&q, true)?;
    let items = state
        .store
        .list_claims(&f, page.cursor.as_deref(), page.limit)
        .await?;
    Ok(json(
        StatusCode::OK,
        &page_of(items, page.limit, |c| c.id.clone()),
    ))
}

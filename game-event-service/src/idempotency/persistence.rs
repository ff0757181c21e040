//! Key records in Redis: `SET NX` claims a key, the final response is stored under it for 24 h.
//! Redis holds only what may be lost: without it requests still run (see `NextAction`).
use actix_web::http::header::LOCATION;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use deadpool_redis::redis::AsyncCommands;
use deadpool_redis::{Connection, Pool};
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

const TTL_SECONDS: u64 = 24 * 3600;
/// How long a retry waits for the first request with its key to finish.
const IN_PROGRESS_WAIT: Duration = Duration::from_secs(5);

/// What a key remembers: the request it was used for (`scope`) and, once done, the response.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Record {
    #[serde(rename = "eventId")]
    scope: String,
    #[serde(default)]
    status: Option<u16>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    location: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    #[error("Idempotency-Key was already used for a different request")]
    KeyReused,
    #[error("request with this Idempotency-Key expired; retry")]
    Expired,
    #[error("a request with this Idempotency-Key is still in progress")]
    StillInProgress,
    #[error("redis is unavailable")]
    Unavailable,
}

pub enum NextAction {
    /// Run the request. `Some`: this request owns the key and must `finish` it; `None`: Redis
    /// is unreachable, so the request runs without replay protection.
    StartProcessing(Option<InFlight>),
    /// The key's first request already finished: answer this.
    ReturnSavedResponse(HttpResponse),
}

/// A key this request owns while it runs.
pub struct InFlight {
    conn: Connection,
    redis_key: String,
    scope: String,
}

/// Claims `redis_key` for a request identified by `scope` (e.g. the event id), or says what
/// to answer instead.
pub async fn try_processing(
    pool: &Pool,
    redis_key: String,
    scope: &str,
    logger: &slog::Logger,
) -> Result<NextAction, IdempotencyError> {
    let unavailable = |e: &dyn std::fmt::Display| {
        slog::warn!(logger, "redis unavailable; claim accepted without Idempotency-Key replay";
            "error" => e.to_string());
        Ok(NextAction::StartProcessing(None))
    };
    let mut conn = match pool.get().await {
        Ok(c) => c,
        Err(e) => return unavailable(&e),
    };
    let pending = Record {
        scope: scope.to_string(),
        status: None,
        body: None,
        location: None,
    };
    let claimed = deadpool_redis::redis::cmd("SET")
        .arg(&redis_key)
        .arg(serde_json::to_string(&pending).unwrap_or_default())
        .arg("NX")
        .arg("EX")
        .arg(TTL_SECONDS)
        .query_async::<Option<String>>(&mut conn)
        .await;
    match claimed {
        Ok(Some(_)) => Ok(NextAction::StartProcessing(Some(InFlight {
            conn,
            redis_key,
            scope: scope.to_string(),
        }))),
        Ok(None) => saved_response(&mut conn, &redis_key, scope).await,
        Err(e) => unavailable(&e),
    }
}

/// The key was seen before: replay its response, waiting briefly while it is in flight.
async fn saved_response(
    conn: &mut Connection,
    redis_key: &str,
    scope: &str,
) -> Result<NextAction, IdempotencyError> {
    let deadline = Instant::now() + IN_PROGRESS_WAIT;
    loop {
        let raw: Option<String> = conn
            .get(redis_key)
            .await
            .map_err(|_| IdempotencyError::Unavailable)?;
        let rec = raw
            .and_then(|r| serde_json::from_str::<Record>(&r).ok())
            .ok_or(IdempotencyError::Expired)?;
        if rec.scope != scope {
            return Err(IdempotencyError::KeyReused);
        }
        if rec.status.is_some() {
            return Ok(NextAction::ReturnSavedResponse(replay(&rec)));
        }
        if Instant::now() > deadline {
            return Err(IdempotencyError::StillInProgress);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn replay(rec: &Record) -> HttpResponse {
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

impl InFlight {
    /// Stores a final response for replay and hands it back unchanged.
    pub async fn save(mut self, res: HttpResponse) -> HttpResponse {
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
        let rec = Record {
            scope: self.scope.clone(),
            status: Some(status.as_u16()),
            body: Some(body.clone()),
            location,
        };
        let _: Result<(), _> = self
            .conn
            .set_ex(
                &self.redis_key,
                serde_json::to_string(&rec).unwrap_or_default(),
                TTL_SECONDS,
            )
            .await;
        let mut rebuilt = HttpResponse::build(status);
        for (k, v) in headers.iter() {
            rebuilt.insert_header((k.clone(), v.clone()));
        }
        rebuilt.body(body)
    }

    /// Nothing was decided: frees the key so the client may retry with it.
    pub async fn abandon(mut self) {
        let _: Result<(), _> = self.conn.del(&self.redis_key).await;
    }
}

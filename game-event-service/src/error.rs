//! The HTTP error boundary: every failure becomes RFC 9457 problem+json with a stable `code`.
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Value};

pub use crate::domain::FieldError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("{0}: {1}")]
    InvalidField(String, String),
    #[error("{0}: {1}")]
    InvalidQuery(String, String),
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("no route matches this path")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    VersionConflict(String),
    #[error("a claim for this event is already pending or approved")]
    ClaimExists(Box<Value>),
    #[error("{0}")]
    Conflict(String),
    #[error("the event is paused: it takes no new claims until it is ACTIVE again")]
    EventPaused,
    /// Only an APPROVED claim can be revoked; carries its status.
    #[error("only an APPROVED claim can be revoked; this one is {0}")]
    ClaimNotApproved(&'static str),
    #[error("Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("{0} is unavailable")]
    ServiceUnavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MalformedJson(_) => "MALFORMED_JSON",
            ApiError::InvalidField(..) => "INVALID_FIELD",
            ApiError::InvalidQuery(..) => "INVALID_QUERY",
            ApiError::Validation(_) => "VALIDATION_FAILED",
            ApiError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ApiError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound(_) => "NOT_FOUND",
            ApiError::RouteNotFound => "ROUTE_NOT_FOUND",
            ApiError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ApiError::VersionConflict(_) => "VERSION_CONFLICT",
            ApiError::ClaimExists(_) => "CLAIM_EXISTS",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::EventPaused => "EVENT_PAUSED",
            ApiError::ClaimNotApproved(_) => "CLAIM_NOT_APPROVED",
            ApiError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ApiError::ServiceUnavailable(_) => "SERVICE_UNAVAILABLE",
            ApiError::Internal(_) => "INTERNAL",
        }
    }
}

impl From<mongodb::error::Error> for ApiError {
    fn from(e: mongodb::error::Error) -> Self {
        use mongodb::error::ErrorKind;
        if matches!(
            *e.kind,
            ErrorKind::ServerSelection { .. }
                | ErrorKind::Io(_)
                | ErrorKind::ConnectionPoolCleared { .. }
        ) {
            ApiError::ServiceUnavailable("mongodb".into())
        } else {
            ApiError::Internal(e.into())
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Mongo(m) => m.into(),
            crate::store::StoreError::Other(o) => ApiError::Internal(o),
        }
    }
}

pub fn problem_response(
    status: StatusCode,
    code: &str,
    detail: &str,
    extra: Option<serde_json::Map<String, Value>>,
) -> HttpResponse {
    let mut body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "code": code,
        "detail": detail,
    });
    if let Some(id) = crate::request_id::current_request_id() {
        body["requestId"] = Value::String(id);
    }
    if let (Some(extra), Some(obj)) = (extra, body.as_object_mut()) {
        obj.extend(extra);
    }
    let mut builder = HttpResponse::build(status);
    builder.content_type("application/problem+json");
    if status == StatusCode::UNAUTHORIZED {
        builder.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
    }
    builder.body(body.to_string())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::MalformedJson(_)
            | ApiError::InvalidField(..)
            | ApiError::InvalidQuery(..) => StatusCode::BAD_REQUEST,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::VersionConflict(_)
            | ApiError::ClaimExists(_)
            | ApiError::Conflict(_)
            | ApiError::EventPaused
            | ApiError::ClaimNotApproved(_) => StatusCode::CONFLICT,
            ApiError::ServiceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        let mut extra = serde_json::Map::new();
        let detail = match self {
            ApiError::InvalidField(f, m) | ApiError::InvalidQuery(f, m) => {
                extra.insert("field".into(), json!(f));
                extra.insert("errors".into(), json!([FieldError::new(f, m)]));
                format!("{f}: {m}")
            }
            ApiError::Validation(errors) => {
                if let Some(first) = errors.first() {
                    extra.insert("field".into(), json!(first.field));
                }
                extra.insert("errors".into(), json!(errors));
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect::<Vec<_>>()
                    .join("; ")
            }
            ApiError::ClaimExists(claim) => {
                extra.insert("claim".into(), (**claim).clone());
                self.to_string()
            }
            ApiError::ServiceUnavailable(dep) => {
                extra.insert("dependency".into(), json!(dep));
                self.to_string()
            }
            // Internal details stay in the logs.
            ApiError::Internal(_) => "internal error".to_string(),
            other => other.to_string(),
        };
        problem_response(status, self.code(), &detail, Some(extra))
    }
}

impl paperclip::v2::schema::Apiv2Errors for ApiError {}

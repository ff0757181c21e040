//! The HTTP error boundary: every failure leaves as RFC 9457 problem+json with a stable code.

use crate::domain::RuleViolation;
use crate::telemetry::current_request_id;
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("{field}: {message}")]
    InvalidField { field: String, message: String },
    #[error("{field}: {message}")]
    InvalidQuery { field: String, message: String },
    #[error("{}: {}", .0.field, .0.message)]
    Validation(RuleViolation),
    #[error("content type must be application/json")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    NotFound(String),
    #[error("no route for this path")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("email is already registered")]
    EmailTaken,
    #[error("too many attempts, retry later")]
    TooManyRequests { retry_after_seconds: u64 },
    #[error("{0} unavailable")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl From<RuleViolation> for AppError {
    fn from(v: RuleViolation) -> Self {
        AppError::Validation(v)
    }
}

impl From<mongodb::error::Error> for AppError {
    fn from(e: mongodb::error::Error) -> Self {
        use mongodb::error::ErrorKind;
        match *e.kind {
            ErrorKind::ServerSelection { .. }
            | ErrorKind::Io(_)
            | ErrorKind::ConnectionPoolCleared { .. } => AppError::Unavailable("mongodb".into()),
            _ => AppError::Internal(e.into()),
        }
    }
}

#[derive(Serialize)]
struct FieldError<'a> {
    field: &'a str,
    message: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Problem<'a> {
    #[serde(rename = "type")]
    type_: &'static str,
    title: &'static str,
    status: u16,
    code: &'static str,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<FieldError<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
}

impl AppError {
    pub fn code(&self) -> &'static str {
        match self {
            AppError::MalformedJson(_) => "MALFORMED_JSON",
            AppError::InvalidField { .. } => "INVALID_FIELD",
            AppError::InvalidQuery { .. } => "INVALID_QUERY",
            AppError::Validation(_) => "VALIDATION_FAILED",
            AppError::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            AppError::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            AppError::Unauthenticated(_) => "UNAUTHENTICATED",
            AppError::Forbidden(_) => "FORBIDDEN",
            AppError::NotFound(_) => "NOT_FOUND",
            AppError::RouteNotFound => "ROUTE_NOT_FOUND",
            AppError::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            AppError::Conflict(_) => "CONFLICT",
            AppError::EmailTaken => "EMAIL_TAKEN",
            AppError::TooManyRequests { .. } => "TOO_MANY_REQUESTS",
            AppError::Unavailable(_) => "SERVICE_UNAVAILABLE",
            AppError::Internal(_) => "INTERNAL",
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AppError::InvalidField { field, .. } | AppError::InvalidQuery { field, .. } => {
                Some(field.as_str()).filter(|f| !f.is_empty())
            }
            AppError::Validation(v) => Some(v.field),
            _ => None,
        }
    }

    fn field_message(&self) -> Option<&str> {
        match self {
            AppError::InvalidField { message, .. } | AppError::InvalidQuery { message, .. } => {
                Some(message)
            }
            AppError::Validation(v) => Some(&v.message),
            _ => None,
        }
    }
}

/// Builds a problem+json response; also used by middleware for framework-made 404/405.
pub fn problem_response(
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<&str>,
    field_message: Option<&str>,
) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(problem_json(status, code, detail, field, field_message))
}

pub fn problem_json(
    status: StatusCode,
    code: &'static str,
    detail: String,
    field: Option<&str>,
    field_message: Option<&str>,
) -> serde_json::Value {
    let problem = Problem {
        type_: "about:blank",
        title: status.canonical_reason().unwrap_or("Error"),
        status: status.as_u16(),
        code,
        detail,
        field,
        errors: field.map(|f| {
            vec![FieldError {
                field: f,
                message: field_message.unwrap_or(""),
            }]
        }),
        request_id: current_request_id(),
    };
    serde_json::to_value(problem).unwrap_or_default()
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::MalformedJson(_)
            | AppError::InvalidField { .. }
            | AppError::InvalidQuery { .. } => StatusCode::BAD_REQUEST,
            AppError::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::NotFound(_) | AppError::RouteNotFound => StatusCode::NOT_FOUND,
            AppError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            AppError::Conflict(_) | AppError::EmailTaken => StatusCode::CONFLICT,
            AppError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let status = self.status_code();
        if let AppError::Internal(e) = self {
            crate::telemetry::log_internal_error(e);
        }
        let mut resp = problem_response(
            status,
            self.code(),
            self.to_string(),
            self.field(),
            self.field_message(),
        );
        match self {
            AppError::Unauthenticated(_) => {
                resp.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    header::HeaderValue::from_static("Bearer"),
                );
            }
            AppError::TooManyRequests {
                retry_after_seconds,
            } => {
                resp.headers_mut().insert(
                    header::RETRY_AFTER,
                    header::HeaderValue::from(*retry_after_seconds),
                );
            }
            _ => {}
        }
        resp
    }
}

impl paperclip::v2::schema::Apiv2Errors for AppError {}

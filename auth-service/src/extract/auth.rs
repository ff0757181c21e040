//! The caller, authenticated by `Authorization: Bearer <access token>`.

use crate::domain::{Role, UserId};
use crate::error::AppError;
use crate::keys::Claims;
use crate::service::sessions;
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{DefaultOperationRaw, DefaultSchemaRaw, SecurityScheme};
use paperclip::v2::schema::Apiv2Schema;
use std::collections::BTreeMap;

/// Marker left in request extensions so the access log can name the user.
#[derive(Clone)]
pub struct AuthenticatedUser(pub UserId);

/// The caller, authenticated by `Authorization: Bearer <access token>`.
pub struct Auth(pub Claims);

impl Auth {
    /// Holds at least one of `roles`.
    pub fn require_any(&self, roles: &[Role], refusal: &'static str) -> Result<(), AppError> {
        if self.0.roles.iter().any(|r| roles.contains(r)) {
            Ok(())
        } else {
            Err(AppError::Forbidden(refusal))
        }
    }

    pub fn require_admin(&self) -> Result<(), AppError> {
        if self.0.roles.contains(&Role::Admin) {
            Ok(())
        } else {
            Err(AppError::Forbidden("requires role ADMIN"))
        }
    }

    /// ADMIN, or the user `id` themself.
    pub fn require_self_or_admin(&self, id: &UserId) -> Result<(), AppError> {
        if &self.0.sub == id {
            Ok(())
        } else {
            self.require_admin()
        }
    }
}

/// `Some(token)` when an Authorization header is present, `Err` when it is not a bearer.
fn bearer(req: &HttpRequest) -> Result<Option<String>, AppError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| Some(t.to_string()))
        .ok_or(AppError::Unauthenticated("missing bearer token"))
}

fn state_of(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("no state")))
}

async fn authenticate(
    req: &HttpRequest,
    state: &AppState,
    token: &str,
) -> Result<Claims, AppError> {
    let claims = sessions::authenticate(state, token).await?;
    // For the access log line.
    req.extensions_mut()
        .insert(AuthenticatedUser(claims.sub.clone()));
    Ok(claims)
}

impl FromRequest for Auth {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let token = bearer(&req)?.ok_or(AppError::Unauthenticated("missing bearer token"))?;
            Ok(Auth(authenticate(&req, &state, &token).await?))
        })
    }
}

/// Who reads an internal route, and so how much they may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InternalCaller {
    /// Presented the configured internal token, or an access token of an ADMIN or AUDITOR.
    Trusted,
    /// No credentials, and no internal token is configured: sees no personal data.
    Anonymous,
}

impl FromRequest for InternalCaller {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = state_of(&req)?;
            let Some(token) = bearer(&req)? else {
                return if state.internal_token_digest.is_some() {
                    Err(AppError::Unauthenticated("internal token required"))
                } else {
                    Ok(InternalCaller::Anonymous)
                };
            };
            if state.is_internal_token(&token) {
                return Ok(InternalCaller::Trusted);
            }
            let claims = authenticate(&req, &state, &token).await?;
            if claims
                .roles
                .iter()
                .any(|r| matches!(r, Role::Admin | Role::Auditor))
            {
                Ok(InternalCaller::Trusted)
            } else {
                Err(AppError::Forbidden(
                    "requires the internal token or role ADMIN or AUDITOR",
                ))
            }
        })
    }
}

impl Apiv2Schema for Auth {}
impl Apiv2Schema for InternalCaller {}

impl OperationModifier for InternalCaller {
    fn update_parameter(_: &mut DefaultOperationRaw) {}
    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
    fn update_security(op: &mut DefaultOperationRaw) {
        Auth::update_security(op)
    }
    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        Auth::update_security_definitions(map)
    }
}

/// Documents the bearer requirement in the OpenAPI document.
impl OperationModifier for Auth {
    fn update_parameter(_: &mut DefaultOperationRaw) {}

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}

    fn update_security(op: &mut DefaultOperationRaw) {
        let mut req = BTreeMap::new();
        req.insert("bearer".to_string(), Vec::new());
        op.security.push(req);
    }

    fn update_security_definitions(map: &mut BTreeMap<String, SecurityScheme>) {
        map.insert(
            "bearer".into(),
            SecurityScheme {
                name: Some("Authorization".into()),
                type_: "apiKey".into(),
                in_: Some("header".into()),
                description: Some(
                    "`Bearer <access token>` (EdDSA JWT from /auth/login); on /internal/* also \
                     `Bearer <INTERNAL_TOKEN>`"
                        .into(),
                ),
                ..Default::default()
            },
        );
    }
}

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

impl FromRequest for Auth {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::Internal(anyhow::anyhow!("no state")))?;
            let header = header.ok_or(AppError::Unauthenticated("missing bearer token"))?;
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(AppError::Unauthenticated("missing bearer token"))?;
            let claims = sessions::authenticate(&state, token).await?;
            // For the access log line.
            req.extensions_mut()
                .insert(AuthenticatedUser(claims.sub.clone()));
            Ok(Auth(claims))
        })
    }
}

impl Apiv2Schema for Auth {}

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
                description: Some("`Bearer <access token>` (EdDSA JWT from /auth/login)".into()),
                ..Default::default()
            },
        );
    }
}

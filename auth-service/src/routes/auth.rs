use super::dto::*;
use crate::error::AppError;
use crate::extract::{ApiJson, Auth, OptionalApiJson};
use crate::service::{AppState, TokenPair};
use actix_web::{HttpRequest, HttpResponse};
use paperclip::actix::{api_v2_operation, web};

fn tokens(pair: TokenPair) -> web::Json<TokenResponse> {
    web::Json(TokenResponse {
        access_token: pair.access_token,
        refresh_token: pair.refresh_token,
        token_type: "Bearer".into(),
        expires_in: pair.expires_in,
    })
}

/// Register a new account (roles are always `[USER]`).
#[api_v2_operation(tags(auth))]
pub async fn register(
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let user = state
        .register(&b.email, &b.password, &b.nickname, b.invite_code.as_deref())
        .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/users/{}", user.id)))
        .json(UserResponse::from(&user)))
}

/// Log in with email and password.
#[api_v2_operation(tags(auth))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<web::Json<TokenResponse>, AppError> {
    let ip = state.client_ip(&req);
    let pair = state.login(&body.0.email, &body.0.password, &ip).await?;
    Ok(tokens(pair))
}

/// Exchange a refresh token for a new pair (the presented token is used up).
#[api_v2_operation(tags(auth))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, AppError> {
    Ok(tokens(state.refresh(&body.0.refresh_token).await?))
}

/// Revoke the caller's session (and optionally the session of the given refresh token).
#[api_v2_operation(tags(auth))]
pub async fn logout(
    state: web::Data<AppState>,
    auth: Auth,
    body: OptionalApiJson<LogoutRequest>,
) -> Result<HttpResponse, AppError> {
    let refresh = body.0.and_then(|b| b.refresh_token);
    state.logout(&auth.0, refresh.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's own profile.
#[api_v2_operation(tags(auth))]
pub async fn me(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<UserResponse>, AppError> {
    let user = state
        .users
        .by_id(&auth.0.sub)
        .await?
        .ok_or(AppError::Unauthenticated("account no longer exists"))?;
    Ok(web::Json(UserResponse::from(&user)))
}

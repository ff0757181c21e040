//! `/auth/*`: registration, login, refresh, logout, own profile.

use super::dto::*;
use crate::error::AppError;
use crate::extract::{ApiJson, Auth, OptionalApiJson};
use crate::service::{accounts, sessions};
use crate::state::AppState;
use actix_web::{HttpRequest, HttpResponse};
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/register").route(web::post().to(register)))
        .service(web::resource("/auth/login").route(web::post().to(login)))
        .service(web::resource("/auth/refresh").route(web::post().to(refresh)))
        .service(web::resource("/auth/logout").route(web::post().to(logout)))
        .service(web::resource("/auth/me").route(web::get().to(me)));
}

/// Register a new account (roles are always `[USER]`).
#[api_v2_operation(tags(auth))]
pub async fn register(
    state: web::Data<AppState>,
    body: ApiJson<RegisterRequest>,
) -> Result<HttpResponse, AppError> {
    let b = body.0;
    let user = accounts::register(
        &state,
        &b.email,
        &b.password,
        &b.nickname,
        b.invite_code.as_deref(),
    )
    .await?;
    Ok(HttpResponse::Created()
        .insert_header(("Location", format!("/users/{}", user.id)))
        .json(UserResponse::from(user)))
}

/// Log in with email and password.
#[api_v2_operation(tags(auth))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<LoginRequest>,
) -> Result<web::Json<TokenResponse>, AppError> {
    let ip = state.client_ip.client_ip(&req);
    let pair = sessions::login(&state, &body.0.email, &body.0.password, &ip).await?;
    Ok(web::Json(pair.into()))
}

/// Exchange a refresh token for a new pair (the presented token is used up).
#[api_v2_operation(tags(auth))]
pub async fn refresh(
    state: web::Data<AppState>,
    body: ApiJson<RefreshRequest>,
) -> Result<web::Json<TokenResponse>, AppError> {
    let pair = sessions::refresh(&state, &body.0.refresh_token).await?;
    Ok(web::Json(pair.into()))
}

/// Revoke the caller's session (and optionally the session of the given refresh token).
#[api_v2_operation(tags(auth))]
pub async fn logout(
    state: web::Data<AppState>,
    auth: Auth,
    body: OptionalApiJson<LogoutRequest>,
) -> Result<HttpResponse, AppError> {
    let refresh = body.0.and_then(|b| b.refresh_token);
    sessions::logout(&state, &auth.0, refresh.as_deref()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The caller's own profile.
#[api_v2_operation(tags(auth))]
pub async fn me(
    state: web::Data<AppState>,
    auth: Auth,
) -> Result<web::Json<UserResponse>, AppError> {
    let user = accounts::profile(&state, &auth.0.sub).await?;
    Ok(web::Json(user.into()))
}

use super::dto::*;
use crate::domain::Role;
use crate::error::AppError;
use crate::extract::{ApiJson, Auth};
use crate::service::AppState;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use paperclip::actix::{api_v2_operation, web};

fn bad_query(field: &str, message: &str) -> AppError {
    AppError::InvalidQuery {
        field: field.into(),
        message: message.into(),
    }
}

/// List users (ADMIN), optionally filtered by role, oldest first, cursor-paginated.
#[api_v2_operation(tags(users))]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: web::Query<ListUsersQuery>,
) -> Result<web::Json<UserList>, AppError> {
    auth.require_admin()?;
    let q = query.into_inner();
    let role =
        match q.role.as_deref() {
            None => None,
            Some(r) => Some(Role::parse(r).ok_or_else(|| {
                bad_query("role", "must be one of USER, OPERATOR, AUDITOR, ADMIN")
            })?),
        };
    let limit = match q.limit.as_deref() {
        None => 20,
        Some(l) => l
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| bad_query("limit", "must be an integer from 1 to 100"))?,
    };
    let after = match q.cursor.as_deref() {
        None => None,
        Some(c) => {
            let raw = URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|s| uuid::Uuid::parse_str(s).is_ok())
                .ok_or_else(|| bad_query("cursor", "malformed cursor"))?;
            Some(raw)
        }
    };
    let mut users = state
        .users
        .list(role.map(Role::as_str), after.as_deref(), limit + 1)
        .await?;
    let next_cursor = if users.len() as i64 > limit {
        users.truncate(limit as usize);
        users
            .last()
            .map(|u| URL_SAFE_NO_PAD.encode(u.id.as_bytes()))
    } else {
        None
    };
    Ok(web::Json(UserList {
        items: users.iter().map(UserResponse::from).collect(),
        next_cursor,
    }))
}

/// One user (ADMIN, or the user themself).
#[api_v2_operation(tags(users))]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
) -> Result<web::Json<UserResponse>, AppError> {
    let id = path.into_inner();
    if auth.0.sub != id {
        auth.require_admin()?;
    }
    let user = state
        .users
        .by_id(&id)
        .await?
        .ok_or_else(|| AppError::NotFound("user not found".into()))?;
    Ok(web::Json(UserResponse::from(&user)))
}

/// Replace a user's roles (ADMIN). Revokes all of that user's sessions.
#[api_v2_operation(tags(users))]
pub async fn change_roles(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<String>,
    body: ApiJson<ChangeRolesRequest>,
) -> Result<web::Json<UserResponse>, AppError> {
    auth.require_admin()?;
    let user = state
        .change_roles(&auth.0, &path.into_inner(), body.0.roles)
        .await?;
    Ok(web::Json(UserResponse::from(&user)))
}

//! `/users/*`: listing and reading accounts, changing roles (ADMIN).

use super::dto::*;
use super::params::Limit;
use crate::domain::{Role, UserId};
use crate::error::AppError;
use crate::extract::{ApiJson, ApiQuery, Auth};
use crate::service::{accounts, roles};
use crate::state::AppState;
use paperclip::actix::{api_v2_operation, web};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/users").route(web::get().to(list)))
        .service(web::resource("/users/{id}").route(web::get().to(get)))
        .service(web::resource("/users/{id}/roles").route(web::patch().to(change_roles)));
}

/// List users (ADMIN), optionally filtered by role, oldest first, cursor-paginated; or, with
/// `email`, look one user up by email (OPERATOR, AUDITOR, ADMIN): `items` holds that user, or
/// nothing.
#[api_v2_operation(tags(users))]
pub async fn list(
    state: web::Data<AppState>,
    auth: Auth,
    query: ApiQuery<ListUsersQuery>,
) -> Result<web::Json<UserList>, AppError> {
    auth.require_any(
        &[Role::Operator, Role::Auditor, Role::Admin],
        "requires role OPERATOR, AUDITOR or ADMIN",
    )?;
    let q = query.0;
    if let Some(email) = q.email.as_deref() {
        let found = accounts::find_by_email(&state, email).await?;
        return Ok(web::Json(UserList {
            items: found.into_iter().map(UserResponse::from).collect(),
            next_cursor: None,
        }));
    }
    if auth.require_admin().is_err() {
        // Staff other than ADMIN may only look users up.
        return Err(AppError::InvalidQuery {
            field: "email".into(),
            message: "is required (listing all users is for ADMIN)".into(),
        });
    }
    let after = q.cursor.as_ref().map(|c| UserId::from(c.id()));
    let page = accounts::list(&state, q.role, after.as_ref(), Limit::get(q.limit)).await?;
    Ok(web::Json(page.into()))
}

/// One user (ADMIN, or the user themself).
#[api_v2_operation(tags(users))]
pub async fn get(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<UserId>,
) -> Result<web::Json<UserResponse>, AppError> {
    let id = path.into_inner();
    auth.require_self_or_admin(&id)?;
    Ok(web::Json(accounts::get(&state, &id).await?.into()))
}

/// Replace a user's roles (ADMIN). Revokes all of that user's sessions.
#[api_v2_operation(tags(users))]
pub async fn change_roles(
    state: web::Data<AppState>,
    auth: Auth,
    path: web::Path<UserId>,
    body: ApiJson<ChangeRolesRequest>,
) -> Result<web::Json<UserResponse>, AppError> {
    auth.require_admin()?;
    let user = roles::change_roles(&state, &auth.0, &path.into_inner(), body.0.roles).await?;
    Ok(web::Json(user.into()))
}

use super::params::{Cursor, Limit};
use crate::domain::{rfc3339, Page, Revocation, Role, TokenPair, User, UserId};
use paperclip::actix::Apiv2Schema;
use serde::{Deserialize, Serialize};

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RegisterRequest {
    pub email: String,
    pub password: String,
    pub nickname: String,
    pub invite_code: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LogoutRequest {
    pub refresh_token: Option<String>,
}

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ChangeRolesRequest {
    pub roles: Vec<Role>,
}

/// `GET /users` parameters.
#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ListUsersQuery {
    /// Exact email (trimmed, case-insensitive): the one user with it, for any staff role
    /// (OPERATOR, AUDITOR, ADMIN). Without it the list is for ADMIN only.
    pub email: Option<String>,
    /// Only users holding this role.
    pub role: Option<Role>,
    /// Page size, 1..=100 (default 20).
    pub limit: Option<Limit>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<Cursor>,
}

#[derive(Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    pub id: UserId,
    pub email: String,
    pub nickname: String,
    pub roles: Vec<Role>,
    pub invite_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<UserId>,
    pub created_at: String,
}

impl From<User> for UserResponse {
    fn from(u: User) -> Self {
        UserResponse {
            id: u.id,
            email: u.email,
            nickname: u.nickname,
            roles: u.roles.to_vec(),
            invite_code: u.invite_code,
            invited_by: u.invited_by,
            created_at: rfc3339(u.created_at),
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct UserList {
    pub items: Vec<UserResponse>,
    pub next_cursor: Option<String>,
}

impl From<Page<User>> for UserList {
    fn from(page: Page<User>) -> Self {
        let next_cursor = Cursor::next(&page, |u| u.id.as_str());
        UserList {
            items: page.items.into_iter().map(UserResponse::from).collect(),
            next_cursor,
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> Self {
        TokenResponse {
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer".into(),
            expires_in: pair.expires_in,
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct RevocationItem {
    pub session_id: String,
    /// Only for trusted callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    pub jti: Option<String>,
    /// Only for trusted callers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<String>,
    pub expires_at: String,
}

impl RevocationItem {
    /// `full`: with who was revoked and when; otherwise only what a verifier needs.
    pub fn new(r: Revocation, full: bool) -> Self {
        RevocationItem {
            session_id: r.session_id.into_string(),
            user_id: full.then(|| r.user_id.into_string()),
            jti: r.jti.map(|j| j.into_string()),
            revoked_at: full.then(|| rfc3339(r.revoked_at)),
            expires_at: rfc3339(r.expires_at),
        }
    }
}

#[derive(Serialize, Apiv2Schema)]
pub struct RevocationList {
    pub items: Vec<RevocationItem>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct Health {
    pub status: String,
}

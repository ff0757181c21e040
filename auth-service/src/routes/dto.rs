use crate::domain::Role;
use crate::events::rfc3339;
use crate::store::UserDoc;
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

#[derive(Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct ListUsersQuery {
    pub role: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

#[derive(Serialize, Deserialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    pub id: String,
    pub email: String,
    pub nickname: String,
    pub roles: Vec<Role>,
    pub invite_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invited_by: Option<String>,
    pub created_at: String,
}

impl From<&UserDoc> for UserResponse {
    fn from(u: &UserDoc) -> Self {
        let mut roles: Vec<Role> = u.roles.iter().filter_map(|r| Role::parse(r)).collect();
        roles.sort();
        roles.dedup();
        UserResponse {
            id: u.id.clone(),
            email: u.email.clone(),
            nickname: u.nickname.clone(),
            roles,
            invite_code: u.invite_code.clone(),
            invited_by: u.invited_by.clone(),
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

#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: String,
    pub expires_in: i64,
}

#[derive(Serialize, Apiv2Schema)]
#[serde(rename_all = "camelCase")]
pub struct RevocationItem {
    pub session_id: String,
    pub user_id: String,
    pub jti: Option<String>,
    pub revoked_at: String,
    pub expires_at: String,
}

#[derive(Serialize, Apiv2Schema)]
pub struct RevocationList {
    pub items: Vec<RevocationItem>,
}

#[derive(Serialize, Apiv2Schema)]
pub struct Health {
    pub status: String,
}

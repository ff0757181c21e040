use crate::helpers::*;
use serde_json::Value;

const INTERNAL_TOKEN: &str = "internal-token-for-tests-0123456789";

/// An app with one revoked session (a logout) and the user's id.
async fn app_with_a_revocation(internal_token: Option<&str>) -> (TestApp, String) {
    let mut env = base_env();
    if let Some(t) = internal_token {
        env.insert("INTERNAL_TOKEN".into(), t.into());
    }
    let app = spawn_app_with(env).await;
    app.wait_ready().await;
    let (user, access, _) = app.user_with_tokens("revoked@example.com").await;
    assert_eq!(app.logout(&access, None).await.status(), 204);
    (app, user["id"].as_str().unwrap().to_string())
}

async fn revocations(app: &TestApp, bearer: Option<&str>) -> reqwest::Response {
    let mut req = app
        .client
        .get(format!("{}/internal/revocations", app.address));
    if let Some(t) = bearer {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn with_an_internal_token_configured_revocations_need_credentials() {
    let (app, user_id) = app_with_a_revocation(Some(INTERNAL_TOKEN)).await;
    let (s, b) = problem(revocations(&app, None).await).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (401, "UNAUTHENTICATED"));
    let (s, _) = problem(revocations(&app, Some("internal-token-for-tests-wrong")).await).await;
    assert_eq!(s, 401);
    let (_, player, _) = app.user_with_tokens("player@example.com").await;
    let (s, b) = problem(revocations(&app, Some(&player)).await).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (403, "FORBIDDEN"));

    for bearer in [INTERNAL_TOKEN.to_string(), app.admin_token().await] {
        let r = revocations(&app, Some(&bearer)).await;
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        let items = b["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{b}");
        assert_eq!(items[0]["userId"], user_id.as_str());
        for f in ["sessionId", "jti", "revokedAt", "expiresAt"] {
            assert!(items[0][f].is_string(), "{f}: {b}");
        }
    }
    app.cleanup().await;
}

#[tokio::test]
async fn without_an_internal_token_anonymous_callers_see_no_user_ids() {
    let (app, _) = app_with_a_revocation(None).await;
    let r = revocations(&app, None).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    let item = &b["items"][0];
    for f in ["sessionId", "jti", "expiresAt"] {
        assert!(item[f].is_string(), "{f}: {b}");
    }
    assert!(item.get("userId").is_none(), "{b}");
    assert!(item.get("revokedAt").is_none(), "{b}");
    // Staff still see everything.
    let admin = app.admin_token().await;
    let b: Value = revocations(&app, Some(&admin)).await.json().await.unwrap();
    assert!(b["items"][0]["userId"].is_string(), "{b}");
    app.cleanup().await;
}

#[test]
fn a_short_internal_token_is_a_configuration_error() {
    let mut env = base_env();
    env.insert("INTERNAL_TOKEN".into(), "short".into());
    assert!(auth_service::configuration::Settings::from_map(env).is_err());
}

use crate::helpers::*;
use serde_json::{json, Value};

async fn audit(app: &TestApp, token: &str, query: &str) -> Value {
    let r = app.get_auth(&format!("/audit{query}"), token).await;
    assert_eq!(r.status(), 200, "/audit{query}");
    r.json().await.unwrap()
}

/// Admin token, admin id, and a user promoted to `roles` (with a fresh token carrying them).
async fn staff(app: &TestApp, email: &str, roles: Value) -> (String, String) {
    let admin = app.admin_token().await;
    let user = app.register(email).await;
    let id = user["id"].as_str().unwrap().to_string();
    let r = app
        .patch_roles(&admin, &id, &json!({ "roles": roles }))
        .await;
    assert_eq!(r.status(), 200);
    (app.tokens(email, PASSWORD).await.0, id)
}

#[tokio::test]
async fn role_changes_and_the_bootstrap_are_audited_newest_first() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let me: Value = app.get_auth("/auth/me", &admin).await.json().await.unwrap();
    let user = app.register("audited@example.com").await;
    let id = user["id"].as_str().unwrap();
    let r = app
        .client
        .patch(format!("{}/users/{id}/roles", app.address))
        .bearer_auth(&admin)
        .header("x-request-id", "audit-trace-1")
        .json(&json!({"roles": ["USER", "OPERATOR"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Neither a no-op nor a refused change leaves a record.
    let same = app
        .patch_roles(&admin, id, &json!({"roles": ["OPERATOR", "USER"]}))
        .await;
    assert_eq!(same.status(), 200);
    let refused = app
        .patch_roles(
            &admin,
            me["id"].as_str().unwrap(),
            &json!({"roles": ["USER"]}),
        )
        .await;
    assert_eq!(refused.status(), 409);

    let b = audit(&app, &admin, "").await;
    let items = b["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{b}");
    assert!(b["nextCursor"].is_null());
    let change = &items[0];
    assert_eq!(change["action"], "user.roles_changed");
    assert_eq!(change["entity"], json!({"type": "user", "id": id}));
    assert_eq!(
        change["actor"],
        json!({"id": me["id"], "roles": ["USER", "ADMIN"]})
    );
    assert_eq!(change["before"], json!({"roles": ["USER"]}));
    assert_eq!(change["after"], json!({"roles": ["USER", "OPERATOR"]}));
    assert_eq!(change["requestId"], "audit-trace-1");
    assert!(change["id"].is_string() && change["at"].is_string());
    let boot = &items[1];
    assert_eq!(boot["action"], "user.admin_bootstrapped");
    assert_eq!(boot["actor"], json!({"id": "bootstrap", "roles": []}));
    assert_eq!(boot["entity"]["id"], me["id"]);
    assert!(boot.get("before").is_none(), "{boot}");
    assert_eq!(boot["after"]["roles"], json!(["USER", "ADMIN"]));
    assert!(boot["requestId"].is_null());
    app.cleanup().await;
}

#[tokio::test]
async fn only_auditors_and_admins_read_the_audit_log() {
    let app = spawn_app().await;
    let (auditor, _) = staff(&app, "auditor@example.com", json!(["AUDITOR"])).await;
    let (operator, _) = staff(&app, "operator@example.com", json!(["USER", "OPERATOR"])).await;
    let (_, player, _) = app.user_with_tokens("player@example.com").await;
    assert_eq!(
        audit(&app, &auditor, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for token in [operator, player] {
        let (s, b) = problem(app.get_auth("/audit", &token).await).await;
        assert_eq!((s, b["code"].as_str().unwrap()), (403, "FORBIDDEN"));
    }
    let (s, _) = problem(app.get("/audit").await.unwrap()).await;
    assert_eq!(s, 401);
    app.cleanup().await;
}

#[tokio::test]
async fn filters_combine_and_pages_follow_the_cursor() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (_, a) = staff(&app, "a@example.com", json!(["USER", "OPERATOR"])).await;
    let (_, b) = staff(&app, "b@example.com", json!(["AUDITOR"])).await;
    let me: Value = app.get_auth("/auth/me", &admin).await.json().await.unwrap();
    let admin_id = me["id"].as_str().unwrap();
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["entity"]["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        ids(&audit(&app, &admin, &format!("?entityId={a}")).await),
        vec![a.clone()]
    );
    assert_eq!(
        ids(&audit(&app, &admin, &format!("?actorId={admin_id}")).await),
        vec![b.clone(), a.clone()]
    );
    assert_eq!(
        ids(&audit(&app, &admin, "?actorId=bootstrap&entityType=user").await),
        vec![admin_id.to_string()]
    );
    assert_eq!(
        ids(&audit(&app, &admin, "?action=user.roles_changed").await),
        vec![b.clone(), a.clone()]
    );
    assert!(ids(&audit(&app, &admin, "?entityType=event").await).is_empty());
    assert!(ids(&audit(&app, &admin, "?from=2999-01-01T00:00:00Z").await).is_empty());
    assert_eq!(
        ids(&audit(&app, &admin, "?to=2999-01-01T00:00:00Z").await).len(),
        3
    );
    assert!(ids(&audit(&app, &admin, "?to=2000-01-01T00:00:00Z").await).is_empty());

    let mut seen = Vec::new();
    let mut query = "?limit=1".to_string();
    loop {
        let page = audit(&app, &admin, &query).await;
        assert!(page["items"].as_array().unwrap().len() <= 1);
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(c) => query = format!("?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![b, a, admin_id.to_string()]);
    app.cleanup().await;
}

#[tokio::test]
async fn bad_audit_filters_are_400_naming_the_parameter() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (q, field) in [
        ("entityType=bogus", "entityType"),
        ("entityType=USER", "entityType"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "to"),
        ("entityId=", "entityId"),
        ("actorId=%00", "actorId"),
        ("action=x&action=y", "action"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("cursor=%%%", "cursor"),
        ("entity_type=user", "entity_type"),
        ("actorId[$ne]=x", "actorId[$ne]"),
    ] {
        let (s, b) = problem(app.get_auth(&format!("/audit?{q}"), &admin).await).await;
        assert_eq!(
            (s, b["code"].as_str().unwrap()),
            (400, "INVALID_QUERY"),
            "{q}: {b}"
        );
        assert_eq!(b["field"], field, "{q}: {b}");
    }
    app.cleanup().await;
}

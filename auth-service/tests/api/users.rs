use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn me_returns_the_callers_profile_and_requires_a_token() {
    let app = spawn_app().await;
    let (user, access, _) = app.user_with_tokens("me@example.com").await;
    let r = app.get_auth("/auth/me", &access).await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b, user);
    let (s, b) = problem(app.get("/auth/me").await.unwrap()).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (401, "UNAUTHENTICATED"));
    app.cleanup().await;
}

#[tokio::test]
async fn listing_users_is_admin_only_filterable_and_paginated() {
    let app = spawn_app().await;
    let (_, user_token, _) = app.user_with_tokens("u1@example.com").await;
    for i in 2..=4 {
        app.register(&format!("u{i}@example.com")).await;
    }
    let (s, b) = problem(app.get_auth("/users", &user_token).await).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (403, "FORBIDDEN"));

    let admin = app.admin_token().await;
    let mut seen = Vec::new();
    let mut path = "/users?limit=2".to_string();
    loop {
        let r = app.get_auth(&path, &admin).await;
        assert_eq!(r.status(), 200);
        let b: Value = r.json().await.unwrap();
        let items = b["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(
            items
                .iter()
                .map(|u| u["email"].as_str().unwrap().to_string()),
        );
        match b["nextCursor"].as_str() {
            Some(c) => path = format!("/users?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let b: Value = app
        .get_auth("/users?role=ADMIN", &admin)
        .await
        .json()
        .await
        .unwrap();
    let admins: Vec<&str> = b["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(admins, vec![ADMIN_EMAIL]);
    assert!(b["nextCursor"].is_null());

    for (q, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("role=ROOT", "role"),
        ("cursor=%%%", "cursor"),
        ("bogus=1", "bogus"),
    ] {
        let (s, b) = problem(app.get_auth(&format!("/users?{q}"), &admin).await).await;
        assert_eq!(
            (s, b["code"].as_str().unwrap()),
            (400, "INVALID_QUERY"),
            "{q}: {b}"
        );
        assert_eq!(b["field"], field, "{q}: {b}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn role_change_by_admin_revokes_the_users_tokens() {
    let app = spawn_app().await;
    let (user, access, refresh) = app.user_with_tokens("promote@example.com").await;
    let admin = app.admin_token().await;
    let r = app
        .patch_roles(
            &admin,
            user["id"].as_str().unwrap(),
            &json!({"roles": ["OPERATOR", "USER"]}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["roles"], json!(["USER", "OPERATOR"]));
    assert_eq!(app.get_auth("/auth/me", &access).await.status(), 401);
    assert_eq!(
        app.post_json("/auth/refresh", &json!({"refreshToken": refresh}))
            .await
            .status(),
        401
    );
    // A fresh login carries the new roles.
    let (fresh, _) = app.tokens("promote@example.com", PASSWORD).await;
    let claims: Value = jsonwebtoken::dangerous::insecure_decode::<Value>(&fresh)
        .unwrap()
        .claims;
    assert_eq!(claims["roles"], json!(["USER", "OPERATOR"]));
    app.cleanup().await;
}

#[tokio::test]
async fn role_change_refusals() {
    let app = spawn_app().await;
    let (user, user_token, _) = app.user_with_tokens("plain@example.com").await;
    let id = user["id"].as_str().unwrap();
    // A non-admin cannot change anyone's roles, including their own.
    let (s, b) = problem(
        app.patch_roles(&user_token, id, &json!({"roles": ["ADMIN"]}))
            .await,
    )
    .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (403, "FORBIDDEN"));
    let admin = app.admin_token().await;
    let (s, b) = problem(app.patch_roles(&admin, id, &json!({"roles": []})).await).await;
    assert_eq!((s, b["field"].as_str().unwrap()), (422, "roles"));
    let (s, b) = problem(
        app.patch_roles(&admin, id, &json!({"roles": ["ROOT"]}))
            .await,
    )
    .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (400, "INVALID_FIELD"));
    assert!(b["field"].as_str().unwrap().starts_with("roles"), "{b}");
    let (s, _) = problem(
        app.patch_roles(&admin, id, &json!({"roles": ["USER"], "extra": true}))
            .await,
    )
    .await;
    assert_eq!(s, 400);
    let (s, b) = problem(
        app.patch_roles(
            &admin,
            "01900000-0000-7000-8000-000000000000",
            &json!({"roles": ["USER"]}),
        )
        .await,
    )
    .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (404, "NOT_FOUND"));
    // An admin cannot drop their own ADMIN role.
    let me: Value = app.get_auth("/auth/me", &admin).await.json().await.unwrap();
    let (s, b) = problem(
        app.patch_roles(
            &admin,
            me["id"].as_str().unwrap(),
            &json!({"roles": ["USER"]}),
        )
        .await,
    )
    .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (409, "CONFLICT"));
    // The user still holds exactly USER.
    let u: Value = app
        .get_auth(&format!("/users/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(u["roles"], json!(["USER"]));
    app.cleanup().await;
}

#[tokio::test]
async fn bootstrap_admin_is_idempotent_across_concurrent_instances() {
    let env = base_env();
    let a = spawn_app_with(env.clone()).await;
    let b = spawn_app_with(env.clone()).await;
    let c = spawn_app_with(env).await;
    for app in [&a, &b, &c] {
        app.wait_ready().await;
    }
    let admin = a.admin_token().await;
    let list: Value = a.get_auth("/users", &admin).await.json().await.unwrap();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["roles"], json!(["USER", "ADMIN"]));
    b.handle.stop(true).await;
    c.handle.stop(true).await;
    a.cleanup().await;
}

#[tokio::test]
async fn bootstrap_promotes_an_existing_account() {
    let mut env = base_env();
    env.remove("BOOTSTRAP_ADMIN_EMAIL");
    env.remove("BOOTSTRAP_ADMIN_PASSWORD");
    let first = spawn_app_with(env.clone()).await;
    first.wait_ready().await;
    first.register("later-admin@example.com").await;
    first.handle.stop(true).await;
    env.insert(
        "BOOTSTRAP_ADMIN_EMAIL".into(),
        "Later-Admin@example.com".into(),
    );
    env.insert("BOOTSTRAP_ADMIN_PASSWORD".into(), "ignored-password".into());
    let second = spawn_app_with(env).await;
    second.wait_ready().await;
    let (token, _) = second.tokens("later-admin@example.com", PASSWORD).await;
    let me: Value = second
        .get_auth("/auth/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["roles"], json!(["USER", "ADMIN"]));
    second.cleanup().await;
}

#[tokio::test]
async fn reading_one_user_is_for_admins_or_the_user_themself() {
    let app = spawn_app().await;
    let (me, token, _) = app.user_with_tokens("self@example.com").await;
    let other = app.register("other@example.com").await;
    let r = app
        .get_auth(&format!("/users/{}", me["id"].as_str().unwrap()), &token)
        .await;
    assert_eq!(r.status(), 200);
    let (s, b) = problem(
        app.get_auth(&format!("/users/{}", other["id"].as_str().unwrap()), &token)
            .await,
    )
    .await;
    assert_eq!((s, b["code"].as_str().unwrap()), (403, "FORBIDDEN"));
    let admin = app.admin_token().await;
    let r = app
        .get_auth(&format!("/users/{}", other["id"].as_str().unwrap()), &admin)
        .await;
    assert_eq!(r.status(), 200);
    let (s, _) = problem(app.get_auth("/users/does-not-exist", &admin).await).await;
    assert_eq!(s, 404);
    app.cleanup().await;
}

/// A staff account holding `role`, signed in.
async fn staff_token(app: &TestApp, admin: &str, email: &str, role: &str) -> String {
    let user = app.register(email).await;
    let id = user["id"].as_str().unwrap();
    let r = app.patch_roles(admin, id, &json!({"roles": [role]})).await;
    assert_eq!(r.status(), 200);
    app.tokens(email, PASSWORD).await.0
}

#[tokio::test]
async fn staff_look_a_user_up_by_exact_normalised_email() {
    let app = spawn_app().await;
    let (user, user_token, _) = app.user_with_tokens("Player.One@example.com").await;
    app.register("player.two@example.com").await;
    let admin = app.admin_token().await;
    let operator = staff_token(&app, &admin, "op@example.com", "OPERATOR").await;
    let auditor = staff_token(&app, &admin, "aud@example.com", "AUDITOR").await;
    // The same representation as GET /users/{id}.
    let one: Value = app
        .get_auth(&format!("/users/{}", user["id"].as_str().unwrap()), &admin)
        .await
        .json()
        .await
        .unwrap();
    for token in [&operator, &auditor, &admin] {
        for q in [
            "player.one@example.com",
            "%20PLAYER.ONE@Example.COM%20",
            "Player.One%40example.com",
        ] {
            let r = app.get_auth(&format!("/users?email={q}"), token).await;
            assert_eq!(r.status(), 200, "{q}");
            let b: Value = r.json().await.unwrap();
            assert_eq!(b["items"], json!([one.clone()]), "{q}");
        }
    }
    // Exact match only: no prefix, no pattern.
    for q in ["player", "player.one@example.co", ".*@example.com"] {
        let r = app.get_auth(&format!("/users?email={q}"), &operator).await;
        if r.status() == 200 {
            let b: Value = r.json().await.unwrap();
            assert_eq!(b["items"], json!([]), "{q}");
        } else {
            assert_eq!(r.status(), 400, "{q}");
        }
    }
    let b: Value = app
        .get_auth("/users?email=nobody@example.com", &auditor)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(b["items"], json!([]));
    // Missing or malformed: 400 naming `email`; listing without it stays ADMIN's.
    for q in ["", "email=", "email=not-an-email", "email=a@b"] {
        let (s, b) = problem(app.get_auth(&format!("/users?{q}"), &operator).await).await;
        assert_eq!((s, b["field"].as_str()), (400, Some("email")), "{q}: {b}");
        assert_eq!(b["code"], "INVALID_QUERY");
    }
    let (s, b) = problem(app.get_auth("/users?email=x@y.zz", &user_token).await).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (403, "FORBIDDEN"));
    let (s, _) = problem(app.get("/users?email=x@y.zz").await.unwrap()).await;
    assert_eq!(s, 401);
    app.cleanup().await;
}

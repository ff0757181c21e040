use crate::helpers::*;
use serde_json::{json, Value};

#[tokio::test]
async fn register_answers_201_with_location_and_user() {
    let app = spawn_app().await;
    let r = app
        .post_json(
            "/auth/register",
            &json!({"email": "Ann@Example.com", "password": PASSWORD, "nickname": "ann"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let b: Value = r.json().await.unwrap();
    assert_eq!(location, format!("/users/{}", b["id"].as_str().unwrap()));
    assert_eq!(b["email"], "ann@example.com");
    assert_eq!(b["roles"], json!(["USER"]));
    assert_eq!(b["nickname"], "ann");
    assert!(b["inviteCode"].as_str().unwrap().len() >= 8);
    assert!(b["createdAt"].as_str().unwrap().ends_with('Z'));
    assert!(b.get("passwordHash").is_none() && b.get("password").is_none());
    assert!(b.get("invitedBy").is_none());
    app.cleanup().await;
}

#[tokio::test]
async fn duplicate_email_is_409_case_insensitively() {
    let app = spawn_app().await;
    app.register("dup@example.com").await;
    let r = app
        .post_json(
            "/auth/register",
            &json!({"email": "DUP@example.com", "password": PASSWORD, "nickname": "dup"}),
        )
        .await;
    let (s, b) = problem(r).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (409, "EMAIL_TAKEN"));
    app.cleanup().await;
}

#[tokio::test]
async fn invite_code_records_the_inviter_and_unknown_code_is_422() {
    let app = spawn_app().await;
    let inviter = app.register("inviter@example.com").await;
    let r = app
        .post_json(
            "/auth/register",
            &json!({"email": "invitee@example.com", "password": PASSWORD, "nickname": "invitee",
                    "inviteCode": inviter["inviteCode"]}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let b: Value = r.json().await.unwrap();
    assert_eq!(b["invitedBy"], inviter["id"]);

    let r = app
        .post_json(
            "/auth/register",
            &json!({"email": "x@example.com", "password": PASSWORD, "nickname": "xx", "inviteCode": "ZZZZZZZZZZ"}),
        )
        .await;
    let (s, b) = problem(r).await;
    assert_eq!(s, 422);
    assert_eq!(b["code"], "VALIDATION_FAILED");
    assert_eq!(b["field"], "inviteCode");
    app.cleanup().await;
}

#[tokio::test]
async fn a_register_body_carrying_roles_is_400_never_an_escalation() {
    let app = spawn_app().await;
    let r = app
        .post_json(
            "/auth/register",
            &json!({"email": "evil@example.com", "password": PASSWORD, "nickname": "evil", "roles": ["ADMIN"]}),
        )
        .await;
    let (s, b) = problem(r).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (400, "INVALID_FIELD"));
    assert_eq!(b["field"], "roles");
    // Nothing was written.
    assert_eq!(app.login("evil@example.com", PASSWORD).await.status(), 401);
    app.cleanup().await;
}

#[tokio::test]
async fn policy_violations_are_422_naming_the_field() {
    let app = spawn_app().await;
    for (body, field) in [
        (
            json!({"email": "a@example.com", "password": "short", "nickname": "abc"}),
            "password",
        ),
        (
            json!({"email": "not-an-email", "password": PASSWORD, "nickname": "abc"}),
            "email",
        ),
        (
            json!({"email": "a@example.com", "password": PASSWORD, "nickname": "a"}),
            "nickname",
        ),
    ] {
        let (s, b) = problem(app.post_json("/auth/register", &body).await).await;
        assert_eq!((s, b["field"].as_str().unwrap()), (422, field), "{b}");
    }
    app.cleanup().await;
}

#[tokio::test]
async fn bad_input_is_400_naming_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            r#"{"email": {"$gt": ""}, "password": "x", "nickname": "y"}"#,
            "INVALID_FIELD",
            Some("email"),
        ),
        (
            r#"{"email": "a@b.co", "password": 12345678, "nickname": "y"}"#,
            "INVALID_FIELD",
            Some("password"),
        ),
        (
            r#"{"email": "a@b.co", "password": "xxxxxxxx", "nickname": "yy", "extra": 1}"#,
            "INVALID_FIELD",
            Some("extra"),
        ),
        (
            r#"{"password": "xxxxxxxx", "nickname": "yy"}"#,
            "INVALID_FIELD",
            Some("email"),
        ),
        (r#"{"email": "a@b.co", "#, "MALFORMED_JSON", None),
        (r#"[]"#, "INVALID_FIELD", None),
    ];
    for (raw, code, field) in cases {
        let (s, b) = problem(app.post_raw("/auth/register", raw).await).await;
        assert_eq!(s, 400, "{raw}: {b}");
        assert_eq!(b["code"], code, "{raw}: {b}");
        if let Some(f) = field {
            assert_eq!(b["field"], f, "{raw}: {b}");
        }
    }
    let r = app
        .client
        .post(format!("{}/auth/register", app.address))
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .unwrap();
    let (s, b) = problem(r).await;
    assert_eq!(
        (s, b["code"].as_str().unwrap()),
        (415, "UNSUPPORTED_MEDIA_TYPE")
    );
    let r = app
        .post_raw(
            "/auth/register",
            &format!(r#"{{"email": "{}"}}"#, "a".repeat(70_000)),
        )
        .await;
    let (s, b) = problem(r).await;
    assert_eq!((s, b["code"].as_str().unwrap()), (413, "PAYLOAD_TOO_LARGE"));
    app.cleanup().await;
}

//! Hostile input through the gateway: operator injection in ids and filters, invalid UTF-8, deep
//! nesting and oversized bodies all get a clear 4xx problem+json, never a 5xx.

use e2e::{Platform, Topology};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn send(p: &Platform, req: reqwest::RequestBuilder) -> anyhow::Result<(StatusCode, Value)> {
    let resp = req.send().await?;
    let status = resp.status();
    let ct = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert!(
        status.is_client_error(),
        "expected a 4xx from {}, got {status} {body}",
        p.run_id
    );
    assert!(ct.starts_with("application/problem+json"), "{ct}");
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_a_clear_client_error() -> anyhow::Result<()> {
    let p = Platform::start(Topology::SINGLE).await?;
    let admin = p.admin_token().await?;
    let gw = p.gateways[0].clone();

    // Operator injection where a string id or filter is expected.
    let (status, body) = send(
        &p,
        p.http
            .get(format!("{gw}/claims"))
            .query(&[("eventId", r#"{"$gt":""}"#)])
            .bearer_auth(&admin),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], json!("eventId"));
    let (status, _) = send(
        &p,
        p.http
            .get(format!("{gw}/claims?eventId[$gt]="))
            .bearer_auth(&admin),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(
        &p,
        p.http
            .get(format!("{gw}/events/%7B%22%24gt%22%3A%22%22%7D"))
            .bearer_auth(&admin),
    )
    .await?;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = send(
        &p,
        p.http.post(format!("{gw}/auth/register")).json(&json!({
            "email": {"$gt": ""}, "password": "password123", "nickname": "x"
        })),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], json!("email"));

    // Invalid UTF-8 in a JSON body.
    let (status, body) = send(
        &p,
        p.http
            .post(format!("{gw}/events"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(b"{\"title\":\"\xff\xfe\"}".to_vec()),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["code"], json!("MALFORMED_JSON"));

    // Deeply nested and oversized bodies.
    let nested = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
    let (status, _) = send(
        &p,
        p.http
            .post(format!("{gw}/events"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(nested),
    )
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = send(
        &p,
        p.http
            .post(format!("{gw}/events"))
            .bearer_auth(&admin)
            .header("content-type", "application/json")
            .body(vec![b'a'; 3 * 1024 * 1024]),
    )
    .await?;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    Ok(())
}

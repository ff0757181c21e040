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

/// What it is, the request, the status it must get, and a `field`/`code` member it must carry.
type Case<'a> = (
    &'a str,
    reqwest::RequestBuilder,
    StatusCode,
    Option<(&'a str, &'a str)>,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_gets_a_clear_client_error() -> anyhow::Result<()> {
    let p = Platform::start(Topology::SINGLE).await?;
    let admin = p.admin_token().await?;
    let gw = p.gateways[0].clone();

    let json = ("content-type", "application/json");
    let nested = format!("{}1{}", "{\"a\":".repeat(200), "}".repeat(200));
    let cases: Vec<Case> = vec![
        (
            "operator object as a filter value",
            p.http
                .get(format!("{gw}/claims"))
                .query(&[("eventId", r#"{"$gt":""}"#)])
                .bearer_auth(&admin),
            StatusCode::BAD_REQUEST,
            Some(("field", "eventId")),
        ),
        (
            "operator syntax in a filter name",
            p.http
                .get(format!("{gw}/claims?eventId[$gt]="))
                .bearer_auth(&admin),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "operator object as a path id",
            p.http
                .get(format!("{gw}/events/%7B%22%24gt%22%3A%22%22%7D"))
                .bearer_auth(&admin),
            StatusCode::NOT_FOUND,
            None,
        ),
        (
            "operator object as an email",
            p.http.post(format!("{gw}/auth/register")).json(&json!({
                "email": {"$gt": ""}, "password": "password123", "nickname": "x"
            })),
            StatusCode::BAD_REQUEST,
            Some(("field", "email")),
        ),
        (
            "invalid UTF-8",
            p.http
                .post(format!("{gw}/events"))
                .bearer_auth(&admin)
                .header(json.0, json.1)
                .body(b"{\"title\":\"\xff\xfe\"}".to_vec()),
            StatusCode::BAD_REQUEST,
            Some(("code", "MALFORMED_JSON")),
        ),
        (
            "200-deep nesting",
            p.http
                .post(format!("{gw}/events"))
                .bearer_auth(&admin)
                .header(json.0, json.1)
                .body(nested),
            StatusCode::BAD_REQUEST,
            None,
        ),
        (
            "3 MiB body",
            p.http
                .post(format!("{gw}/events"))
                .bearer_auth(&admin)
                .header(json.0, json.1)
                .body(vec![b'a'; 3 * 1024 * 1024]),
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
        ),
    ];
    for (what, req, want, member) in cases {
        let (status, body) = send(&p, req).await?;
        assert_eq!(status, want, "{what}: {body}");
        if let Some((name, value)) = member {
            assert_eq!(body[name], json!(value), "{what}: {body}");
        }
    }
    Ok(())
}

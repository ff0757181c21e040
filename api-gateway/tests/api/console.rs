//! The staff console's files under /console: cache policy, CSP, redirect, 404 and 405.

use crate::helpers::spawn_app_with;
use std::path::PathBuf;

fn built_console() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("console-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(
        dir.join("index.html"),
        "<!doctype html><script type=module src=/console/assets/app-1a2b.js></script>",
    )
    .unwrap();
    std::fs::write(dir.join("assets/app-1a2b.js"), "console.log('hi')").unwrap();
    dir
}

#[tokio::test]
async fn console_files_are_served_with_their_cache_policy_and_a_strict_csp() {
    let dir = built_console();
    let app = spawn_app_with(|s, _| s.edge.console_dir = Some(dir.clone())).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let r = http.get(app.url("/console")).send().await.unwrap();
    assert_eq!(r.status(), 308);
    assert_eq!(r.headers()["location"], "/console/");

    let r = http.get(app.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let csp = r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("style-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(r.text().await.unwrap().contains("app-1a2b.js"));

    let r = http
        .get(app.url("/console/assets/app-1a2b.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );

    let r = http
        .get(app.url("/console/assets/missing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["cache-control"], "no-cache");
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/problem+json"));

    let r = http.post(app.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert_eq!(r.headers()["allow"], "GET, HEAD");

    let r = http.head(app.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    std::fs::remove_dir_all(dir).ok();
}

#[tokio::test]
async fn without_a_built_console_the_path_is_not_found() {
    let app = spawn_app_with(|s, _| s.edge.console_dir = None).await;
    let r = reqwest::get(app.url("/console/")).await.unwrap();
    assert_eq!(r.status(), 404);
}

//! The platform as a client sees it: requests through the gateway, accounts, and waiting.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::{nickname, Platform, Response, User, PASSWORD};

impl Platform {
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Result<Response> {
        let url = format!("{}{}", self.gateway(), path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req
            .send()
            .await
            .with_context(|| format!("{method} {url}"))?;
        let status = resp.status();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let text = resp.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Response {
            status,
            headers,
            body,
        })
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Response> {
        self.call(Method::GET, path, token, None, &[]).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Result<Response> {
        self.call(Method::POST, path, token, Some(body), &[]).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<String> {
        let resp = self
            .post(
                "/auth/login",
                None,
                json!({"email": email, "password": password}),
            )
            .await?;
        resp.expect(StatusCode::OK, "login")?;
        Ok(resp.body["accessToken"]
            .as_str()
            .context("accessToken missing")?
            .to_string())
    }

    pub async fn admin_token(&self) -> Result<String> {
        self.login(&self.admin_email, &self.admin_password).await
    }

    /// Registers an account and returns the user object.
    pub async fn register(&self, email: &str, invite_code: Option<&str>) -> Result<Value> {
        let mut body = json!({"email": email, "password": PASSWORD, "nickname": nickname(email)});
        if let Some(code) = invite_code {
            body["inviteCode"] = json!(code);
        }
        let resp = self.post("/auth/register", None, body).await?;
        resp.expect(StatusCode::CREATED, "register")?;
        Ok(resp.body)
    }

    /// A staff account of this run (`{name}-{run id}@e2e.test`) with `roles`, signed in.
    pub async fn staff(&self, admin: &str, name: &str, roles: &[&str]) -> Result<User> {
        let email = format!("{name}-{}@e2e.test", self.run_id);
        self.user_with_roles(admin, &email, roles).await
    }

    /// Registers an account, gives it `roles` as the admin, and logs it in.
    pub async fn user_with_roles(&self, admin: &str, email: &str, roles: &[&str]) -> Result<User> {
        let user = self.register(email, None).await?;
        let id = user["id"].as_str().context("user id")?.to_string();
        let resp = self
            .call(
                Method::PATCH,
                &format!("/users/{id}/roles"),
                Some(admin),
                Some(json!({"roles": roles})),
                &[],
            )
            .await?;
        resp.expect(StatusCode::OK, "change roles")?;
        let token = self.login(email, PASSWORD).await?;
        Ok(User {
            id,
            token,
            invite_code: user["inviteCode"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Registers and logs in a plain USER.
    pub async fn player(&self, email: &str, invite_code: Option<&str>) -> Result<User> {
        let user = self.register(email, invite_code).await?;
        let token = self.login(email, PASSWORD).await?;
        Ok(User {
            id: user["id"].as_str().context("user id")?.to_string(),
            token,
            invite_code: user["inviteCode"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// Polls `check` until it returns Some or the deadline passes.
    pub async fn eventually<T, F, Fut>(&self, what: &str, timeout: Duration, check: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>>>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(v) = check().await? {
                return Ok(v);
            }
            if Instant::now() > deadline {
                bail!("timed out after {timeout:?} waiting for {what}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every item of a cursor-paginated list.
    pub async fn all_pages(&self, path: &str, token: &str) -> Result<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{sep}limit=100&cursor={c}"),
                None => format!("{path}{sep}limit=100"),
            };
            let resp = self.get(&url, Some(token)).await?;
            resp.expect(StatusCode::OK, "list page")?;
            items.extend(
                resp.body["items"]
                    .as_array()
                    .context("items missing")?
                    .iter()
                    .cloned(),
            );
            match resp.body["nextCursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return Ok(items),
            }
        }
    }
}

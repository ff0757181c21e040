//! SPEC §8 "Live decisions" through the gateway: a player holding `/claims/me/stream` gets the
//! decision of the claim they make, staff holding `/events/{id}/stats/stream` see the approval,
//! heartbeats pass through, and a reconnect with `Last-Event-ID` does not repeat what was seen.

use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use e2e::{Platform, Topology};
use reqwest::StatusCode;
use serde_json::{json, Value};

#[derive(Debug, Default)]
struct Frame {
    event: Option<String>,
    id: Option<String>,
    data: Option<String>,
    comment: Option<String>,
}

impl Frame {
    fn json(&self) -> Value {
        serde_json::from_str(self.data.as_deref().unwrap_or("null")).unwrap_or(Value::Null)
    }
}

struct Sse {
    res: reqwest::Response,
    buf: String,
}

impl Sse {
    async fn open(
        p: &Platform,
        path: &str,
        token: &str,
        last_id: Option<&str>,
    ) -> anyhow::Result<Sse> {
        // The platform's client has a 30 s total timeout; a stream outlives it.
        let http = reqwest::Client::builder().build()?;
        let mut rb = http
            .get(format!("{}{}", p.gateway(), path))
            .bearer_auth(token);
        if let Some(id) = last_id {
            rb = rb.header("Last-Event-ID", id);
        }
        let res = rb.send().await?;
        anyhow::ensure!(res.status() == StatusCode::OK, "{path}: {}", res.status());
        let ct = res.headers()["content-type"].to_str()?.to_string();
        anyhow::ensure!(ct == "text/event-stream", "{path}: content-type {ct}");
        Ok(Sse {
            res,
            buf: String::new(),
        })
    }

    async fn frame(&mut self, within: Duration) -> Option<Frame> {
        let deadline = Instant::now() + within;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut f = Frame::default();
                for line in block.lines() {
                    if let Some(c) = line.strip_prefix(':') {
                        f.comment = Some(c.trim().to_string());
                    } else if let Some((k, v)) = line.split_once(':') {
                        let v = v.strip_prefix(' ').unwrap_or(v).to_string();
                        match k {
                            "event" => f.event = Some(v),
                            "id" => f.id = Some(v),
                            "data" => f.data = Some(v),
                            _ => {}
                        }
                    }
                }
                return Some(f);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            match tokio::time::timeout(left, self.res.chunk()).await {
                Ok(Ok(Some(c))) => self.buf.push_str(&String::from_utf8_lossy(&c)),
                _ => return None,
            }
        }
    }

    /// The next `name` event whose JSON satisfies `want`, within `within`.
    async fn event_where(
        &mut self,
        name: &str,
        within: Duration,
        want: impl Fn(&Value) -> bool,
    ) -> Option<Frame> {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let f = self.frame(left).await?;
            if f.event.as_deref() == Some(name) && want(&f.json()) {
                return Some(f);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_decisions_stream_through_the_gateway() -> anyhow::Result<()> {
    let p = Platform::start(Topology::SINGLE).await?;
    let admin = p.admin_token().await?;
    let operator = p.staff(&admin, "op", &["OPERATOR"]).await?;
    let player = p.player(&format!("pl-{}@e2e.test", p.run_id), None).await?;
    let now = Utc::now();
    let created = p
        .post(
            "/events",
            Some(&operator.token),
            json!({
                "title": "Live launch", "description": "claim and watch",
                "startsAt": (now - Days::days(1)).to_rfc3339(),
                "endsAt": (now + Days::days(1)).to_rfc3339(),
                "status": "ACTIVE", "conditions": [], "maxClaims": 5,
                "rewards": [{"type": "POINT", "quantity": 50}]
            }),
        )
        .await?;
    created.expect(StatusCode::CREATED, "operator creates the event")?;
    let event_id = created.body["id"].as_str().unwrap().to_string();

    // A USER may not watch the stats; the operator may.
    let stats_path = format!("/events/{event_id}/stats/stream");
    p.get(&stats_path, Some(&player.token))
        .await?
        .expect(StatusCode::FORBIDDEN, "a player on the stats stream")?;
    let mut stats = Sse::open(&p, &stats_path, &operator.token, None).await?;
    let first = stats
        .event_where("stats", Duration::from_secs(10), |_| true)
        .await
        .ok_or_else(|| anyhow::anyhow!("no first stats snapshot"))?;
    anyhow::ensure!(
        first.json()["approved"] == 0,
        "snapshot: {:?}",
        first.json()
    );
    anyhow::ensure!(
        first.json()["stockLeft"] == 5,
        "snapshot: {:?}",
        first.json()
    );

    let mut mine = Sse::open(&p, "/claims/me/stream", &player.token, None).await?;
    mine.frame(Duration::from_secs(5)).await; // retry hint: the stream is subscribed
    tokio::time::sleep(Duration::from_millis(500)).await;
    let claim = p
        .post(
            &format!("/events/{event_id}/claims"),
            Some(&player.token),
            json!({}),
        )
        .await?;
    claim.expect(StatusCode::ACCEPTED, "player claims")?;
    let claim_id = claim.body["id"].as_str().unwrap().to_string();

    let decided = mine
        .event_where("claim", Duration::from_secs(30), |c| {
            c["id"] == claim_id.as_str()
        })
        .await
        .ok_or_else(|| anyhow::anyhow!("the decision never reached the player's stream"))?;
    let pushed = decided.json();
    anyhow::ensure!(pushed["status"] == "APPROVED", "pushed: {pushed}");
    let stored = p
        .get(&format!("/claims/{claim_id}"), Some(&player.token))
        .await?;
    anyhow::ensure!(
        pushed == stored.body,
        "pushed {pushed} != stored {}",
        stored.body
    );

    let approved = stats
        .event_where("stats", Duration::from_secs(15), |s| s["approved"] == 1)
        .await
        .ok_or_else(|| anyhow::anyhow!("the stats stream never showed the approval"))?;
    anyhow::ensure!(approved.json()["stockLeft"] == 4, "{:?}", approved.json());

    // Heartbeats pass the gateway (SSE_HEARTBEAT_SECONDS=2 in this suite).
    let mut beat = false;
    for _ in 0..5 {
        match mine.frame(Duration::from_secs(5)).await {
            Some(f) if f.comment.as_deref() == Some("keepalive") => {
                beat = true;
                break;
            }
            Some(_) => continue,
            None => break,
        }
    }
    anyhow::ensure!(beat, "no keepalive through the gateway");

    // Reconnecting with the decision's id replays nothing: it was the last one.
    drop(mine);
    let last = decided.id.clone().unwrap();
    let mut again = Sse::open(&p, "/claims/me/stream", &player.token, Some(&last)).await?;
    let replayed = again
        .event_where("claim", Duration::from_secs(3), |_| true)
        .await;
    anyhow::ensure!(replayed.is_none(), "replayed what was seen: {replayed:?}");
    Ok(())
}

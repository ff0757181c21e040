//! The exchanges and queues this service declares, and how to reach the broker.
use crate::configuration::Settings;
use amqprs::channel::{
    Channel, ExchangeDeclareArguments, ExchangeDeleteArguments, QueueBindArguments,
    QueueDeclareArguments, QueueDeleteArguments,
};
use amqprs::connection::{Connection, OpenConnectionArguments};
use amqprs::{FieldTable, FieldValue};
use secrecy::ExposeSecret;

fn table(entries: Vec<(&str, FieldValue)>) -> FieldTable {
    let mut t = FieldTable::new();
    for (k, v) in entries {
        t.insert(k.try_into().expect("short field name"), v);
    }
    t
}

fn long_str(s: &str) -> FieldValue {
    FieldValue::S(s.try_into().expect("long string"))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `amqp://user:pass@host:port/vhost` (the `urispec` feature of amqprs is not enabled).
pub fn connection_args(url: &str) -> anyhow::Result<OpenConnectionArguments> {
    parse_url(url).map(|(args, _)| args)
}

/// The broker user of an AMQP URL: what RabbitMQ checks a published `user_id` against.
pub fn amqp_user(url: &str) -> anyhow::Result<String> {
    parse_url(url).map(|(_, user)| user)
}

fn parse_url(url: &str) -> anyhow::Result<(OpenConnectionArguments, String)> {
    let rest = url
        .strip_prefix("amqp://")
        .ok_or_else(|| anyhow::anyhow!("AMQP_URL must start with amqp://"))?;
    let (authority, vhost) = match rest.split_once('/') {
        Some((a, v)) => (a, percent_decode(v)),
        None => (rest, "/".to_string()),
    };
    let vhost = if vhost.is_empty() {
        "/".to_string()
    } else {
        vhost
    };
    let (creds, hostport) = match authority.rsplit_once('@') {
        Some((c, h)) => (Some(c), h),
        None => (None, authority),
    };
    let (user, pass) = match creds.map(|c| c.split_once(':').unwrap_or((c, ""))) {
        Some((u, p)) => (percent_decode(u), percent_decode(p)),
        None => ("guest".to_string(), "guest".to_string()),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) => (h.to_string(), p.parse::<u16>()?),
        None => (hostport.to_string(), 5672),
    };
    let mut args = OpenConnectionArguments::new(&host, port, &user, &pass);
    args.virtual_host(&vhost);
    Ok((args, user))
}

pub fn dlx_name(queue: &str) -> String {
    format!("{queue}.dlx")
}
pub fn dlq_name(queue: &str) -> String {
    format!("{queue}.dlq")
}

async fn declare_dead_letter(ch: &Channel, queue: &str) -> anyhow::Result<()> {
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&dlx_name(queue), "fanout")
            .durable(true)
            .finish(),
    )
    .await?;
    ch.queue_declare(QueueDeclareArguments::durable_client_named(&dlq_name(
        queue,
    )))
    .await?;
    ch.queue_bind(QueueBindArguments::new(
        &dlq_name(queue),
        &dlx_name(queue),
        "",
    ))
    .await?;
    Ok(())
}

/// Exchanges and durable queues; idempotent, so every (re)connection declares it again.
pub async fn declare_topology(ch: &Channel, settings: &Settings) -> anyhow::Result<()> {
    let s = &settings.amqp;
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&s.auth_events_exchange, "topic")
            .durable(true)
            .finish(),
    )
    .await?;
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&s.rewards_exchange, "topic")
            .durable(true)
            .finish(),
    )
    .await?;
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&s.catalog_exchange, "fanout")
            .durable(true)
            .finish(),
    )
    .await?;
    ch.exchange_declare(
        ExchangeDeclareArguments::new(&s.decisions_exchange, "fanout")
            .durable(true)
            .finish(),
    )
    .await?;

    for q in [&s.auth_events_queue, &s.activity_queue] {
        declare_dead_letter(ch, q).await?;
        ch.queue_declare(
            QueueDeclareArguments::durable_client_named(q)
                .arguments(table(vec![(
                    "x-dead-letter-exchange",
                    long_str(&dlx_name(q)),
                )]))
                .finish(),
        )
        .await?;
    }
    // audit.recorded: auth-service's audit records, kept here beside this service's own.
    for rk in ["user.registered", "user.logged_in", "audit.recorded"] {
        ch.queue_bind(QueueBindArguments::new(
            &s.auth_events_queue,
            &s.auth_events_exchange,
            rk,
        ))
        .await?;
    }

    // A quorum queue counts redeliveries itself and dead-letters past the limit.
    declare_dead_letter(ch, &s.claims_queue).await?;
    ch.queue_declare(
        QueueDeclareArguments::durable_client_named(&s.claims_queue)
            .arguments(table(vec![
                ("x-queue-type", long_str("quorum")),
                (
                    "x-delivery-limit",
                    FieldValue::l(i64::from(settings.claims.max_deliveries)),
                ),
                (
                    "x-dead-letter-exchange",
                    long_str(&dlx_name(&s.claims_queue)),
                ),
            ]))
            .finish(),
    )
    .await?;

    Ok(())
}

/// Removes the durable queues/exchanges named in `s` (used by tests to clean up after themselves).
pub async fn delete_topology(settings: &Settings) -> anyhow::Result<()> {
    let s = &settings.amqp;
    let args = connection_args(s.url.expose_secret())?;
    let conn = Connection::open(&args).await?;
    let ch = conn.open_channel(None).await?;
    for q in [&s.claims_queue, &s.activity_queue, &s.auth_events_queue] {
        let _ = ch.queue_delete(QueueDeleteArguments::new(q)).await;
        let _ = ch
            .queue_delete(QueueDeleteArguments::new(&dlq_name(q)))
            .await;
        let _ = ch
            .exchange_delete(ExchangeDeleteArguments::new(&dlx_name(q)))
            .await;
    }
    for x in [
        &s.rewards_exchange,
        &s.catalog_exchange,
        &s.decisions_exchange,
        &s.auth_events_exchange,
    ] {
        let _ = ch.exchange_delete(ExchangeDeleteArguments::new(x)).await;
    }
    let _ = ch.close().await;
    let _ = conn.close().await;
    Ok(())
}

/// A server-named queue of this instance alone (exclusive, auto-delete) bound to `exchange`:
/// every instance gets its own copy of broadcast messages.
pub async fn private_queue_bound_to(
    ch: &Channel,
    exchange: &str,
    routing_key: &str,
) -> anyhow::Result<String> {
    let (queue, _, _) = ch
        .queue_declare(
            QueueDeclareArguments::exclusive_server_named()
                .auto_delete(true)
                .finish(),
        )
        .await?
        .ok_or_else(|| anyhow::anyhow!("no queue name returned"))?;
    ch.queue_bind(QueueBindArguments::new(&queue, exchange, routing_key))
        .await?;
    Ok(queue)
}

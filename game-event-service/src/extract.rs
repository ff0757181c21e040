//! Extractors that turn every kind of bad input into a 400/415/413 naming the field.
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use paperclip::v2::models::{
    DataType, DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use std::collections::HashSet;

/// JSON body parsed with `serde_path_to_error` so type errors name the offending field.
pub struct ValidJson<T>(pub T);

/// A route's own body limit (resource `app_data`), for bodies that are large by design such as
/// 10,000 user ids; other routes keep the configured limit.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::MalformedJson("body is not valid UTF-8".into()));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Ok(v) => {
            // Trailing garbage after the value is malformed JSON too.
            de.end()
                .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
            Ok(v)
        }
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            use serde_json::error::Category;
            match inner.classify() {
                Category::Syntax | Category::Eof | Category::Io => {
                    Err(ApiError::MalformedJson(inner.to_string()))
                }
                Category::Data => {
                    let msg = inner.to_string();
                    // A missing field is reported at its parent: name the field itself.
                    let named = unknown_field_name(&msg).or_else(|| missing_field_name(&msg));
                    let field = match (path.as_str(), named) {
                        (".", Some(f)) => f,
                        (".", None) => "body".into(),
                        (_, Some(f)) if msg.starts_with("missing field") => format!("{path}.{f}"),
                        _ => path,
                    };
                    Err(ApiError::InvalidField(field, strip_position(&msg)))
                }
            }
        }
    }
}

fn unknown_field_name(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("unknown field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn missing_field_name(msg: &str) -> Option<String> {
    let rest = msg.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

fn strip_position(msg: &str) -> String {
    match msg.find(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ValidJson<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let ct = req
            .headers()
            .get(actix_web::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.to_ascii_lowercase());
        let limit = req.app_data::<BodyLimit>().map(|l| l.0).unwrap_or_else(|| {
            req.app_data::<web::Data<crate::state::AppState>>()
                .map(|s| s.settings.app.body_limit_bytes)
                .unwrap_or(256 * 1024)
        });
        let mut payload = payload.take();
        Box::pin(async move {
            let is_json = ct
                .as_deref()
                .map(|c| {
                    let base = c.split(';').next().unwrap_or("").trim();
                    base == "application/json" || base.ends_with("+json")
                })
                .unwrap_or(false);
            if !is_json {
                return Err(ApiError::UnsupportedMediaType);
            }
            let mut body = web::BytesMut::new();
            while let Some(chunk) = payload.next().await {
                let chunk = chunk.map_err(|e| ApiError::MalformedJson(e.to_string()))?;
                if body.len() + chunk.len() > limit {
                    return Err(ApiError::PayloadTooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            parse_json::<T>(&body).map(ValidJson)
        })
    }
}

impl<T: Apiv2Schema> Apiv2Schema for ValidJson<T> {
    fn name() -> Option<String> {
        T::name()
    }
    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: Apiv2Schema> paperclip::actix::OperationModifier for ValidJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        op.parameters.push(Either::Right(Parameter {
            description: None,
            in_: ParameterIn::Body,
            name: "body".into(),
            required: true,
            schema: Some({
                let mut def = T::schema_with_ref();
                def.retain_ref();
                def
            }),
            ..Default::default()
        }));
    }
}

/// A query string parsed into `T`, the one description of what a route accepts: give `T`
/// `#[serde(deny_unknown_fields)]` and fields of the value types below. Every failure is a 400
/// naming the parameter; `T` also documents the parameters in the OpenAPI document.
pub struct Query<T>(pub T);

pub fn parse_query<T: DeserializeOwned>(qs: &str) -> Result<T, ApiError> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(qs)
        .map_err(|e| ApiError::InvalidQuery("query".into(), e.to_string()))?
        .into_inner();
    let mut seen = HashSet::new();
    let mut map = serde_json::Map::new();
    for (k, v) in pairs {
        if !seen.insert(k.clone()) {
            return Err(ApiError::InvalidQuery(
                k,
                "must be given at most once".into(),
            ));
        }
        map.insert(k, serde_json::Value::String(v));
    }
    serde_path_to_error::deserialize(serde_json::Value::Object(map)).map_err(|err| {
        let path = err.path().to_string();
        let msg = err.into_inner().to_string();
        match unknown_field_name(&msg) {
            Some(name) if path == "." => {
                ApiError::InvalidQuery(name, "unknown query parameter".into())
            }
            _ => ApiError::InvalidQuery(path, msg),
        }
    })
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()).map(Query))
    }
}

impl<T: Apiv2Schema> Apiv2Schema for Query<T> {}
impl<T: Apiv2Schema> paperclip::actix::OperationModifier for Query<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        <web::Query<T> as paperclip::actix::OperationModifier>::update_parameter(op);
    }
}

/// Query values arrive as strings; these parse them with a message that says what is expected.
macro_rules! query_value {
    ($(#[$doc:meta])* $name:ident($inner:ty), $data:expr, $msg:expr, $parse:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub $inner);

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                let parse: fn(&str) -> Option<$inner> = $parse;
                parse(&s).map($name).ok_or_else(|| serde::de::Error::custom($msg))
            }
        }

        impl paperclip::v2::schema::TypedData for $name {
            fn data_type() -> paperclip::v2::models::DataType {
                $data
            }
        }
    };
}

query_value!(
    /// `limit`: page size, 1 to 100 (default 20).
    Limit(i64),
    DataType::Integer,
    "must be an integer between 1 and 100",
    |s| s.parse::<i64>().ok().filter(|n| (1..=100).contains(n))
);
query_value!(
    /// `cursor`: the `nextCursor` of the previous page.
    Cursor(String),
    DataType::String,
    "is malformed",
    decode_cursor
);
query_value!(
    /// An RFC 3339 date-time.
    Timestamp(chrono::DateTime<chrono::Utc>),
    DataType::String,
    "must be an RFC 3339 date-time",
    |s| chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
);
query_value!(
    /// `true` or `false`.
    Flag(bool),
    DataType::Boolean,
    "must be true or false",
    |s| match s {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
);
query_value!(
    /// An IANA time zone such as `Asia/Seoul`.
    TimeZone(chrono_tz::Tz),
    DataType::String,
    "must be an IANA time zone",
    |s| s.parse().ok()
);

/// The page a list route returns.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    /// The last `_id` of the previous page; ids are UUID v7 so `_id` order is time order.
    pub cursor: Option<String>,
}

impl Page {
    pub fn new(limit: Option<Limit>, cursor: Option<Cursor>) -> Page {
        Page {
            limit: limit.map_or(20, |l| l.0),
            cursor: cursor.map(|c| c.0),
        }
    }
}

/// `from` must not come after `to`.
pub fn ordered_range(from: &Option<Timestamp>, to: &Option<Timestamp>) -> Result<(), ApiError> {
    match (from, to) {
        (Some(a), Some(b)) if a.0 > b.0 => Err(ApiError::InvalidQuery(
            "to".into(),
            "must not be before from".into(),
        )),
        _ => Ok(()),
    }
}

pub fn encode_cursor(last_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{last_id}"))
}

fn decode_cursor(raw: &str) -> Option<String> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .ok()?;
    let s = String::from_utf8(bytes).ok()?;
    let id = s.strip_prefix("v1:")?;
    uuid::Uuid::parse_str(id).ok()?;
    Some(id.to_string())
}

/// Path ids are parsed before they reach a query; an invalid one cannot name anything: 404.
pub fn path_id<T>(raw: &str, parse: impl Fn(&str) -> Option<T>) -> Result<T, ApiError> {
    parse(raw).ok_or_else(|| ApiError::NotFound("not found".into()))
}

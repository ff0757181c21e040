//! Extractors that turn every kind of bad input into a 400/415/413 naming the field.
use crate::error::ApiError;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use chrono::{DateTime, Utc};
use futures_util::future::LocalBoxFuture;
use futures_util::StreamExt;
use paperclip::v2::models::{
    DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use std::collections::HashMap;

/// JSON body parsed with `serde_path_to_error` so type errors name the offending field.
pub struct ValidJson<T>(pub T);

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
                    let field = if path == "." {
                        unknown_field_name(&msg).unwrap_or_else(|| "body".into())
                    } else {
                        path
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
        let limit = req
            .app_data::<web::Data<crate::state::AppState>>()
            .map(|s| s.settings.body_limit_bytes)
            .unwrap_or(256 * 1024);
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

/// Query string as a map, with typed getters that name the parameter on failure. `D` only
/// documents the accepted parameters in the OpenAPI document.
pub struct QueryParams<D = NoParams>(pub HashMap<String, String>, std::marker::PhantomData<D>);

/// For routes without documented query parameters.
#[derive(paperclip::actix::Apiv2Schema)]
pub struct NoParams {}

impl<D> QueryParams<D> {
    pub fn from_request_str(qs: &str) -> Result<Self, ApiError> {
        let pairs = web::Query::<Vec<(String, String)>>::from_query(qs)
            .map_err(|e| ApiError::InvalidQuery("query".into(), e.to_string()))?;
        let mut map = HashMap::new();
        for (k, v) in pairs.into_inner() {
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::InvalidQuery(
                    k,
                    "must be given at most once".into(),
                ));
            }
        }
        Ok(QueryParams(map, std::marker::PhantomData))
    }

    pub fn allow_only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        for k in self.0.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::InvalidQuery(
                    k.clone(),
                    "unknown query parameter".into(),
                ));
            }
        }
        Ok(())
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn datetime(&self, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
        self.str(name)
            .map(|v| {
                DateTime::parse_from_rfc3339(v)
                    .map(|d| d.with_timezone(&Utc))
                    .map_err(|_| {
                        ApiError::InvalidQuery(name.into(), "must be an RFC 3339 date-time".into())
                    })
            })
            .transpose()
    }

    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        self.str(name)
            .map(|v| match v {
                "true" => Ok(true),
                "false" => Ok(false),
                _ => Err(ApiError::InvalidQuery(
                    name.into(),
                    "must be true or false".into(),
                )),
            })
            .transpose()
    }

    pub fn parse_enum<T: DeserializeOwned>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.str(name)
            .map(|v| {
                serde_json::from_value(serde_json::Value::String(v.to_string())).map_err(|_| {
                    ApiError::InvalidQuery(name.into(), format!("unsupported value `{v}`"))
                })
            })
            .transpose()
    }

    pub fn id(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.str(name)
            .map(|v| {
                if crate::domain::valid_id(v) {
                    Ok(v.to_string())
                } else {
                    Err(ApiError::InvalidQuery(
                        name.into(),
                        "is not a valid id".into(),
                    ))
                }
            })
            .transpose()
    }

    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = match self.str("limit") {
            None => 20,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if (1..=100).contains(&n) => n,
                _ => {
                    return Err(ApiError::InvalidQuery(
                        "limit".into(),
                        "must be an integer between 1 and 100".into(),
                    ))
                }
            },
        };
        let cursor = self.str("cursor").map(decode_cursor).transpose()?;
        Ok(Page { limit, cursor })
    }
}

#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    /// The last `_id` of the previous page; ids are UUID v7 so `_id` order is time order.
    pub cursor: Option<String>,
}

pub fn encode_cursor(last_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("v1:{last_id}"))
}

pub fn decode_cursor(raw: &str) -> Result<String, ApiError> {
    use base64::Engine;
    let bad = || ApiError::InvalidQuery("cursor".into(), "is malformed".into());
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(raw)
        .map_err(|_| bad())?;
    let s = String::from_utf8(bytes).map_err(|_| bad())?;
    let id = s.strip_prefix("v1:").ok_or_else(bad)?;
    uuid::Uuid::parse_str(id).map_err(|_| bad())?;
    Ok(id.to_string())
}

/// Path ids are validated before they reach a query.
pub fn path_id(raw: &str) -> Result<String, ApiError> {
    if crate::domain::valid_id(raw) {
        Ok(raw.to_string())
    } else {
        Err(ApiError::NotFound("not found".into()))
    }
}

impl<D> FromRequest for QueryParams<D> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(QueryParams::from_request_str(req.query_string()))
    }
}

impl<D: Apiv2Schema> Apiv2Schema for QueryParams<D> {}
impl<D: Apiv2Schema> paperclip::actix::OperationModifier for QueryParams<D> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        <web::Query<D> as paperclip::actix::OperationModifier>::update_parameter(op);
    }
}

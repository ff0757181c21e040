//! JSON bodies: content type checked, size limited, errors name the field.

use crate::error::AppError;
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

/// Field path of a serde error, with the offending key appended for unknown fields.
pub(super) fn field_of(path: &serde_path_to_error::Path, message: &str) -> String {
    let mut base = path.to_string();
    if base == "." || base == "?" {
        base.clear();
    }
    for prefix in ["unknown field `", "missing field `", "duplicate field `"] {
        if let Some(rest) = message.strip_prefix(prefix) {
            if let Some(name) = rest.split('`').next() {
                // serde_path_to_error already stops at the unknown key for some inputs.
                if base.rsplit('.').next() == Some(name) {
                    return base;
                }
                return if base.is_empty() {
                    name.to_string()
                } else {
                    format!("{base}.{name}")
                };
            }
        }
    }
    base
}

pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AppError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(err) => {
            let path = err.path().clone();
            let inner = err.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = inner.to_string();
                    let message = message
                        .split(" at line ")
                        .next()
                        .unwrap_or(&message)
                        .to_string();
                    let field = field_of(&path, &message);
                    Err(AppError::InvalidField { field, message })
                }
                _ => Err(AppError::MalformedJson(inner.to_string())),
            }
        }
    }
}

fn check_content_type(req: &HttpRequest) -> Result<(), AppError> {
    let ct = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json" || essence.ends_with("+json") {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType)
    }
}

async fn read_body(req: &HttpRequest, payload: &mut Payload) -> Result<web::Bytes, AppError> {
    web::Bytes::from_request(req, payload).await.map_err(|e| {
        if e.as_response_error().status_code() == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE {
            AppError::PayloadTooLarge
        } else {
            AppError::MalformedJson(e.to_string())
        }
    })
}

/// JSON body: content type checked, size limited, errors name the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for ApiJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            check_content_type(&req)?;
            let bytes = read_body(&req, &mut payload).await?;
            parse_json(&bytes).map(ApiJson)
        })
    }
}

/// A body that may be absent entirely (empty), but if present must be valid.
pub struct OptionalApiJson<T>(pub Option<T>);

impl<T: DeserializeOwned + 'static> FromRequest for OptionalApiJson<T> {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let mut payload = payload.take();
        Box::pin(async move {
            let bytes = read_body(&req, &mut payload).await?;
            if bytes.iter().all(u8::is_ascii_whitespace) {
                return Ok(OptionalApiJson(None));
            }
            check_content_type(&req)?;
            parse_json(&bytes).map(|v| OptionalApiJson(Some(v)))
        })
    }
}

fn body_parameter<T: Apiv2Schema>(op: &mut DefaultOperationRaw, required: bool) {
    op.parameters.push(Either::Right(Parameter {
        description: None,
        in_: ParameterIn::Body,
        name: "body".into(),
        required,
        schema: Some({
            let mut def = T::schema_with_ref();
            def.retain_ref();
            def
        }),
        ..Default::default()
    }));
}

impl<T: Apiv2Schema> Apiv2Schema for ApiJson<T> {
    fn name() -> Option<String> {
        T::name()
    }
    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: OperationModifier> OperationModifier for ApiJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        body_parameter::<T>(op, true);
    }
    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        T::update_definitions(map);
    }
}

impl<T: Apiv2Schema> Apiv2Schema for OptionalApiJson<T> {
    fn name() -> Option<String> {
        T::name()
    }
    fn raw_schema() -> DefaultSchemaRaw {
        T::raw_schema()
    }
}

impl<T: OperationModifier> OperationModifier for OptionalApiJson<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        body_parameter::<T>(op, false);
    }
    fn update_definitions(map: &mut BTreeMap<String, DefaultSchemaRaw>) {
        T::update_definitions(map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    #[allow(dead_code)]
    struct Body {
        email: String,
        invite_code: Option<String>,
    }

    fn field(json: &str) -> (String, Option<String>) {
        match parse_json::<Body>(json.as_bytes()) {
            Err(e @ AppError::InvalidField { .. }) => {
                let AppError::InvalidField { ref field, .. } = e else {
                    unreachable!()
                };
                (e.code().to_string(), Some(field.clone()))
            }
            Err(e) => (e.code().to_string(), None),
            Ok(_) => ("OK".into(), None),
        }
    }

    #[test]
    fn names_the_offending_field() {
        assert_eq!(
            field(r#"{"email":{"$gt":""}}"#),
            ("INVALID_FIELD".into(), Some("email".into()))
        );
        assert_eq!(
            field(r#"{"email":"a","roles":["ADMIN"]}"#),
            ("INVALID_FIELD".into(), Some("roles".into()))
        );
        assert_eq!(
            field(r#"{"email":1}"#),
            ("INVALID_FIELD".into(), Some("email".into()))
        );
        assert_eq!(
            field(r#"{}"#),
            ("INVALID_FIELD".into(), Some("email".into()))
        );
        assert_eq!(field(r#"{"email":"#).0, "MALFORMED_JSON");
        assert_eq!(field(r#"{"email":"a"}"#).0, "OK");
    }
}

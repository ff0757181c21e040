//! Query strings into typed structs. The struct (with `deny_unknown_fields`) is the one list of
//! what a route accepts: it parses the request and it documents the OpenAPI parameters.

use super::json::field_of;
use crate::error::AppError;
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use futures_util::future::{ready, Ready};
use paperclip::actix::OperationModifier;
use paperclip::v2::models::{
    DefaultOperationRaw, DefaultSchemaRaw, Either, Parameter, ParameterIn,
};
use paperclip::v2::schema::Apiv2Schema;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;

pub struct ApiQuery<T>(pub T);

/// Parses a query string; a bad, unknown or repeated parameter is 400 `INVALID_QUERY` naming it.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, AppError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|err| {
        let path = err.path().clone();
        let message = err.into_inner().to_string();
        AppError::InvalidQuery {
            field: field_of(&path, &message),
            message,
        }
    })
}

impl<T: DeserializeOwned> FromRequest for ApiQuery<T> {
    type Error = AppError;
    type Future = Ready<Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(parse_query(req.query_string()).map(ApiQuery))
    }
}

impl<T: Apiv2Schema> Apiv2Schema for ApiQuery<T> {}

impl<T: Apiv2Schema> OperationModifier for ApiQuery<T> {
    fn update_parameter(op: &mut DefaultOperationRaw) {
        let def = T::raw_schema();
        for (name, v) in def.properties {
            op.parameters.push(Either::Right(Parameter {
                in_: ParameterIn::Query,
                required: def.required.contains(&name),
                data_type: v.data_type,
                format: v.format,
                enum_: v.enum_,
                description: v.description,
                maximum: v.maximum,
                minimum: v.minimum,
                name,
                ..Default::default()
            }));
        }
    }

    fn update_definitions(_: &mut BTreeMap<String, DefaultSchemaRaw>) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Q {
        limit: Option<u32>,
        role: Option<String>,
    }

    fn field(q: &str) -> Option<String> {
        match parse_query::<Q>(q) {
            Err(AppError::InvalidQuery { field, .. }) => Some(field),
            _ => None,
        }
    }

    #[test]
    fn names_the_offending_parameter() {
        assert_eq!(field("limit=abc"), Some("limit".into()));
        assert_eq!(field("bogus=1"), Some("bogus".into()));
        assert_eq!(field("role=a&role=b"), Some("role".into()));
        assert_eq!(field("limit=3&role=x"), None);
        assert_eq!(field(""), None);
    }
}

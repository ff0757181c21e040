//! An event's claim periods, now and next.
use super::lookup::load_visible;
use super::{json, resource};
use crate::auth::Identity;
use crate::domain::period::{Period, MAX_PERIODS};
use crate::error::ApiError;
use crate::extract::Query;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use chrono::Utc;
use paperclip::actix::{api_v2_operation, web, Apiv2Schema};
use serde::{Deserialize, Deserializer, Serialize};

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/events/{id}/periods").route(web::get().to(list_periods)));
}

/// Without `count`, the current period and the nine after it: what a schedule view shows.
const DEFAULT_COUNT: usize = 10;

/// `count`: how many periods, 1 to 50.
#[derive(Debug, Clone)]
pub struct Count(usize);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_PERIODS).contains(n))
            .map(Count)
            .ok_or_else(|| serde::de::Error::custom("must be an integer between 1 and 50"))
    }
}

impl paperclip::v2::schema::TypedData for Count {
    fn data_type() -> paperclip::v2::models::DataType {
        paperclip::v2::models::DataType::Integer
    }
}

/// Query parameters of `GET /events/{id}/periods`.
#[derive(Debug, Deserialize, Apiv2Schema)]
#[serde(deny_unknown_fields)]
pub struct PeriodParams {
    /// How many periods (1 to 50, default 10).
    count: Option<Count>,
}

#[derive(Debug, Serialize, Apiv2Schema)]
pub struct PeriodList {
    pub items: Vec<Period>,
}

/// The current period (the first one before the event starts) and those after it, as UTC
/// instants; empty once the event has ended.
#[api_v2_operation(tags(Events))]
pub async fn list_periods(
    state: web::Data<AppState>,
    id: Identity,
    path: web::Path<String>,
    q: Query<PeriodParams>,
) -> Result<HttpResponse, ApiError> {
    let count = q.0.count.map_or(DEFAULT_COUNT, |c| c.0);
    let e = load_visible(&state, &id, &path).await?;
    let items = e.periods_from(Utc::now(), count);
    Ok(json(StatusCode::OK, &PeriodList { items }))
}

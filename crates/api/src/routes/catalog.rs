//! The service catalogue.

use axum::Json;
use axum::extract::State;
use quartier_pricing::Service;
use quartier_store::{StoreError, catalog};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiResult;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_catalog))
}

/// An amount of money.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct MoneyDto {
    /// Whole Rappen (1/100 CHF).
    pub amount_rappen: i64,
    /// Always `CHF`.
    pub currency: &'static str,
}

impl From<quartier_domain::Money> for MoneyDto {
    fn from(m: quartier_domain::Money) -> Self {
        Self { amount_rappen: m.rappen(), currency: m.currency().code() }
    }
}

/// A kind of job that can be booked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceDto {
    slug: String,
    name: String,
    description: String,
    /// The skill a helper needs.
    skill: String,
    /// Price for the standard duration.
    base_price: MoneyDto,
    /// Standard duration.
    duration_minutes: u32,
    /// Price of each extra 30 minutes.
    extra_unit_price: MoneyDto,
    /// A preview: new, done only by super-helpers for now.
    preview: bool,
}

impl From<Service> for ServiceDto {
    fn from(s: Service) -> Self {
        Self {
            slug: s.slug,
            name: s.name,
            description: s.description,
            skill: s.skill,
            base_price: s.base_price.into(),
            duration_minutes: s.duration_minutes,
            extra_unit_price: s.extra_unit_price.into(),
            preview: false,
        }
    }
}

/// The catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogPage {
    items: Vec<ServiceDto>,
    /// Always null: the catalogue comes whole.
    next_cursor: Option<String>,
}

/// The services customers can book, in display order.
#[utoipa::path(get, path = "/v1/catalog", tag = "catalog", responses((status = 200, body = CatalogPage)))]
async fn list_catalog(State(app): State<AppState>) -> ApiResult<Json<CatalogPage>> {
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let previews = catalog::previews(&mut conn).await?;
    let items = catalog::list(&mut conn)
        .await?
        .into_iter()
        .map(|s| {
            let preview = previews.contains(&s.slug);
            ServiceDto { preview, ..ServiceDto::from(s) }
        })
        .collect();
    Ok(Json(CatalogPage { items, next_cursor: None }))
}

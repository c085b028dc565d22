//! The service catalogue as stored; bookings copy what they need from it at booking time.

use quartier_domain::Money;
use quartier_pricing::Service;
use sqlx::AnyConnection;

use crate::{Conn, StoreError};

#[derive(sqlx::FromRow)]
struct ServiceRow {
    slug: String,
    name: String,
    description: String,
    skill: String,
    base_price_rappen: i64,
    duration_minutes: i64,
    extra_unit_rappen: i64,
}

impl TryFrom<ServiceRow> for Service {
    type Error = StoreError;
    fn try_from(r: ServiceRow) -> Result<Self, StoreError> {
        let corrupt = |what: &str| StoreError::Corrupt(format!("service {}: {what}", r.slug));
        Ok(Service {
            base_price: Money::from_rappen(r.base_price_rappen).map_err(|_| corrupt("price"))?,
            extra_unit_price: Money::from_rappen(r.extra_unit_rappen).map_err(|_| corrupt("extra price"))?,
            duration_minutes: u32::try_from(r.duration_minutes).map_err(|_| corrupt("duration"))?,
            slug: r.slug,
            name: r.name,
            description: r.description,
            skill: r.skill,
        })
    }
}

/// Fills an empty catalogue with `services`; leaves a non-empty one alone. Returns how many were added.
pub async fn ensure(conn: &mut AnyConnection, services: &[Service]) -> Result<usize, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM services").fetch_one(&mut *conn).await?;
    if n > 0 {
        return Ok(0);
    }
    for (i, s) in services.iter().enumerate() {
        sqlx::query(
            "INSERT INTO services (slug, name, description, skill, base_price_rappen, duration_minutes, extra_unit_rappen, position, active)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)",
        )
        .bind(&s.slug)
        .bind(&s.name)
        .bind(&s.description)
        .bind(&s.skill)
        .bind(s.base_price.rappen())
        .bind(i64::from(s.duration_minutes))
        .bind(s.extra_unit_price.rappen())
        .bind(i64::try_from(i).unwrap_or(i64::MAX))
        .execute(&mut *conn)
        .await?;
    }
    Ok(services.len())
}

/// Active services in display order.
pub async fn list(conn: &mut AnyConnection) -> Result<Vec<Service>, StoreError> {
    let rows: Vec<ServiceRow> = sqlx::query_as(
        "SELECT slug, name, description, skill, base_price_rappen, duration_minutes, extra_unit_rappen
         FROM services WHERE active = 1 ORDER BY position",
    )
    .fetch_all(conn)
    .await?;
    rows.into_iter().map(Service::try_from).collect()
}

/// One active service.
pub async fn get(conn: &mut AnyConnection, slug: &str) -> Result<Option<Service>, StoreError> {
    let r: Option<ServiceRow> = sqlx::query_as(
        "SELECT slug, name, description, skill, base_price_rappen, duration_minutes, extra_unit_rappen
         FROM services WHERE slug = $1 AND active = 1",
    )
    .bind(slug)
    .fetch_optional(conn)
    .await?;
    r.map(Service::try_from).transpose()
}

/// Changes a service; absent values stay. `false` when there is no such service.
pub async fn update(
    conn: &mut Conn,
    slug: &str,
    base_price_rappen: Option<i64>,
    extra_unit_rappen: Option<i64>,
    duration_minutes: Option<i64>,
    active: Option<bool>,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE services SET base_price_rappen = COALESCE($2, base_price_rappen), extra_unit_rappen = COALESCE($3, extra_unit_rappen),
             duration_minutes = COALESCE($4, duration_minutes), active = COALESCE($5, active)
         WHERE slug = $1",
    )
    .bind(slug)
    .bind(base_price_rappen)
    .bind(extra_unit_rappen)
    .bind(duration_minutes)
    .bind(active.map(i64::from))
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Slugs of the services marked "preview" (offered only to super-helpers).
pub async fn previews(conn: &mut AnyConnection) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT slug FROM services WHERE preview = 1 ORDER BY position").fetch_all(conn).await?)
}

/// Whether a service is a preview.
pub async fn is_preview(conn: &mut AnyConnection, slug: &str) -> Result<bool, StoreError> {
    let v: Option<i64> = sqlx::query_scalar("SELECT preview FROM services WHERE slug = $1").bind(slug).fetch_optional(conn).await?;
    Ok(v.unwrap_or(0) != 0)
}

/// Marks a service as a preview or not; `false` when there is no such service.
pub async fn set_preview(conn: &mut AnyConnection, slug: &str, preview: bool) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE services SET preview = $2 WHERE slug = $1").bind(slug).bind(i64::from(preview)).execute(conn).await?;
    Ok(r.rows_affected() == 1)
}

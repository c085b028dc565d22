//! Helpers' profiles: their own (with the private home location) and the public view.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use quartier_domain::{GeoPoint, Locale, Role, Skill, UserId};
use quartier_store::{StoreError, catalog, helpers};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ApiResult, Problem};
use crate::extract::{Body, Caller, Query};
use crate::state::{AppState, now_ms};

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_own_profile, put_profile)).routes(routes!(list_helpers)).routes(routes!(get_helper))
}

/// A place as coordinates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    /// Latitude, WGS84 degrees.
    pub lat: f64,
    /// Longitude, WGS84 degrees.
    pub lon: f64,
}

/// What a helper tells about themselves.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    /// Skills from the catalogue (`GET /v1/catalog` lists which skill each service needs).
    skills: Vec<String>,
    /// Home location. Private: never shown to anyone else.
    home: Coordinates,
    /// How far the helper travels, 1 to 15 km.
    travel_radius_km: u8,
    /// A few friendly words, up to 1000 characters.
    #[serde(default)]
    bio: String,
    /// Languages spoken: `de`, `fr`, `it`, `en`.
    #[serde(default)]
    languages: Vec<String>,
}

/// A helper's own profile, including the private home location.
#[derive(Debug, Serialize, ToSchema)]
pub struct OwnProfile {
    id: String,
    name: String,
    skills: Vec<String>,
    home: Coordinates,
    travel_radius_km: i64,
    bio: String,
    languages: Vec<String>,
    updated_at: jiff::Timestamp,
    /// The H3 cells the travel radius covers (resolution 8, compacted to coarser cells where a
    /// whole parent is covered). Customers in these cells can book this helper.
    service_area: Vec<String>,
    /// The same cells' outlines for drawing, each a ring of `[lat, lon]` corners (the helper's
    /// own map needs no H3 library or map tiles).
    service_area_outlines: Vec<Vec<[f64; 2]>>,
}

/// A helper as customers see them: no home location, no exact distance.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicHelper {
    id: String,
    name: String,
    skills: Vec<String>,
    travel_radius_km: i64,
    bio: String,
    languages: Vec<String>,
    /// `new`, `trusted` or `super` (on a helper's page and in matches; absent in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    level: Option<String>,
    /// Earned skill badges (on a helper's page and in matches).
    #[serde(skip_serializing_if = "Option::is_none")]
    badges: Option<Vec<crate::routes::reputation::Badge>>,
}

fn json_list(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

impl From<helpers::ProfileRow> for PublicHelper {
    fn from(p: helpers::ProfileRow) -> Self {
        Self {
            skills: json_list(&p.skills),
            languages: json_list(&p.languages),
            id: p.user_id,
            name: p.name,
            travel_radius_km: p.travel_radius_km,
            bio: p.bio,
            level: None,
            badges: None,
        }
    }
}

impl From<helpers::ProfileRow> for OwnProfile {
    fn from(p: helpers::ProfileRow) -> Self {
        let cells = GeoPoint::new(p.home_lat, p.home_lon)
            .map(|home| quartier_matching::search::service_area(home, u8::try_from(p.travel_radius_km).unwrap_or(1)))
            .unwrap_or_default();
        Self {
            skills: json_list(&p.skills),
            languages: json_list(&p.languages),
            home: Coordinates { lat: p.home_lat, lon: p.home_lon },
            service_area_outlines: cells.iter().map(|c| c.boundary().iter().map(|ll| [ll.lat(), ll.lng()]).collect()).collect(),
            service_area: cells.into_iter().map(|c| c.to_string()).collect(),
            updated_at: jiff::Timestamp::from_millisecond(p.updated_at).unwrap_or_default(),
            id: p.user_id,
            name: p.name,
            travel_radius_km: p.travel_radius_km,
            bio: p.bio,
        }
    }
}

/// The signed-in helper's own profile.
#[utoipa::path(get, path = "/v1/helper/profile", tag = "helpers", security(("bearer" = [])),
    responses((status = 200, body = OwnProfile), (status = 403, body = Problem, description = "forbidden: not a helper"), (status = 404, body = Problem, description = "profile_missing")))]
async fn get_own_profile(State(app): State<AppState>, caller: Caller) -> ApiResult<Json<OwnProfile>> {
    caller.require(Role::Helper)?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let p = helpers::get(&mut conn, &caller.id.to_string()).await?.ok_or_else(|| {
        ApiError::new(axum::http::StatusCode::NOT_FOUND, "profile_missing", "You have no profile yet: PUT /v1/helper/profile.")
    })?;
    Ok(Json(p.into()))
}

/// Set skills, home location, travel radius, bio and languages.
#[utoipa::path(put, path = "/v1/helper/profile", tag = "helpers", request_body = ProfileRequest, security(("bearer" = [])),
    responses((status = 200, body = OwnProfile), (status = 403, body = Problem),
              (status = 400, body = Problem, description = "unknown_skill, invalid_coordinates, invalid_radius, ...")))]
async fn put_profile(State(app): State<AppState>, caller: Caller, Body(req): Body<ProfileRequest>) -> ApiResult<Json<OwnProfile>> {
    caller.require(Role::Helper)?;
    let home = GeoPoint::new(req.home.lat, req.home.lon)?;
    if !(1..=15).contains(&req.travel_radius_km) {
        return Err(ApiError::invalid("invalid_radius", "The travel radius must be 1 to 15 km."));
    }
    if req.bio.chars().count() > 1000 {
        return Err(ApiError::invalid("bio_too_long", "The bio can have at most 1000 characters."));
    }
    if req.skills.is_empty() || req.skills.len() > 20 {
        return Err(ApiError::invalid("invalid_skills", "List 1 to 20 skills."));
    }
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let known: BTreeSet<String> = catalog::list(&mut conn).await?.into_iter().map(|s| s.skill).collect();
    drop(conn);
    let mut skills = BTreeSet::new();
    for s in &req.skills {
        let skill = Skill::parse(s)?;
        if !known.contains(skill.as_str()) {
            return Err(ApiError::invalid(
                "unknown_skill",
                format!("`{s}` is not a skill any service needs; known skills: {}.", known.iter().cloned().collect::<Vec<_>>().join(", ")),
            ));
        }
        skills.insert(skill.as_str().to_owned());
    }
    let mut languages = BTreeSet::new();
    for l in &req.languages {
        languages.insert(l.parse::<Locale>()?.as_str().to_owned());
    }
    let row = helpers::ProfileRow {
        user_id: caller.id.to_string(),
        name: String::new(),
        bio: req.bio.trim().to_owned(),
        skills: serde_json::to_string(&skills).map_err(ApiError::internal)?,
        languages: serde_json::to_string(&languages).map_err(ApiError::internal)?,
        home_lat: home.lat(),
        home_lon: home.lon(),
        travel_radius_km: i64::from(req.travel_radius_km),
        updated_at: now_ms(),
    };
    let mut tx = app.store().begin().await?;
    helpers::upsert(&mut tx, &row).await?;
    quartier_store::availability::record_change(&mut tx, &row.user_id, row.updated_at).await?;
    let saved = helpers::get(&mut tx, &row.user_id)
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("profile vanished in its own transaction")))?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(&row.user_id).await;
    Ok(Json(saved.into()))
}

/// Filters and paging for the helper list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HelperQuery {
    /// Only helpers with this skill.
    skill: Option<String>,
    /// Page size, 1 to 100 (default 20).
    limit: Option<u32>,
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
}

/// A page of helpers.
#[derive(Debug, Serialize, ToSchema)]
pub struct HelperPage {
    items: Vec<PublicHelper>,
    next_cursor: Option<String>,
}

pub(crate) fn page_limit(limit: Option<u32>) -> Result<i64, ApiError> {
    match limit.unwrap_or(20) {
        n @ 1..=100 => Ok(i64::from(n)),
        0 => Err(ApiError::bad_request("invalid_query", "`limit` must be 1 to 100.")),
        _ => Err(ApiError::bad_request("page_too_large", "A page has at most 100 items; use `next_cursor` for more.")),
    }
}

/// Helpers with a profile, optionally with a skill. The ranked search by place and time is
/// `POST /v1/matches`.
#[utoipa::path(get, path = "/v1/helpers", tag = "helpers", params(HelperQuery),
    responses((status = 200, body = HelperPage), (status = 400, body = Problem)))]
async fn list_helpers(State(app): State<AppState>, Query(q): Query<HelperQuery>) -> ApiResult<Json<HelperPage>> {
    let limit = page_limit(q.limit)?;
    let skill = q.skill.as_deref().map(Skill::parse).transpose()?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let rows = helpers::list(&mut conn, skill.as_ref().map(Skill::as_str), q.cursor.as_deref(), limit + 1).await?;
    let more = rows.len() as i64 > limit;
    let items: Vec<PublicHelper> = rows.into_iter().take(limit as usize).map(PublicHelper::from).collect();
    let next_cursor = if more { items.last().map(|h| h.id.clone()) } else { None };
    Ok(Json(HelperPage { items, next_cursor }))
}

/// One helper's public profile.
#[utoipa::path(get, path = "/v1/helpers/{id}", tag = "helpers", params(("id" = String, Path, description = "Helper id")),
    responses((status = 200, body = PublicHelper), (status = 404, body = Problem)))]
async fn get_helper(State(app): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<PublicHelper>> {
    let id: UserId = id.parse().map_err(|_| ApiError::not_found("helper"))?;
    let mut conn = app.store().pool().acquire().await.map_err(StoreError::from)?;
    let p = helpers::get(&mut conn, &id.to_string()).await?.ok_or_else(|| ApiError::not_found("helper"))?;
    Ok(Json(with_reputation(&mut conn, p).await?))
}

/// A helper's public profile with their level and badges.
pub(crate) async fn with_reputation(conn: &mut quartier_store::Conn, p: helpers::ProfileRow) -> ApiResult<PublicHelper> {
    let level = quartier_store::reputation::level(conn, &p.user_id).await?.map_or_else(|| "new".to_owned(), |(l, ..)| l);
    let badges = crate::routes::reputation::badges(conn, &p.user_id).await?;
    Ok(PublicHelper { level: Some(level), badges: Some(badges), ..PublicHelper::from(p) })
}

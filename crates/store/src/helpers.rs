//! Helpers' public profiles and their private home location.

use sqlx::AnyConnection;

use crate::StoreError;

/// A helper's profile row. `home_lat`/`home_lon` are private: they never leave the server.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProfileRow {
    /// The helper's user id.
    pub user_id: String,
    /// Display name (from users).
    pub name: String,
    /// Free text.
    pub bio: String,
    /// JSON array of skill names.
    pub skills: String,
    /// JSON array of language codes.
    pub languages: String,
    /// Private.
    pub home_lat: f64,
    /// Private.
    pub home_lon: f64,
    /// 1..=15.
    pub travel_radius_km: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

/// Creates or replaces a helper's profile.
pub async fn upsert(conn: &mut AnyConnection, p: &ProfileRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO helper_profiles (user_id, bio, skills, languages, home_lat, home_lon, travel_radius_km, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (user_id) DO UPDATE SET bio = excluded.bio, skills = excluded.skills,
             languages = excluded.languages, home_lat = excluded.home_lat, home_lon = excluded.home_lon,
             travel_radius_km = excluded.travel_radius_km, updated_at = excluded.updated_at",
    )
    .bind(&p.user_id)
    .bind(&p.bio)
    .bind(&p.skills)
    .bind(&p.languages)
    .bind(p.home_lat)
    .bind(p.home_lon)
    .bind(p.travel_radius_km)
    .bind(p.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

const PROFILE_SELECT: &str = "SELECT p.user_id, u.name, p.bio, p.skills, p.languages, p.home_lat, p.home_lon,
        p.travel_radius_km, p.updated_at
     FROM helper_profiles p JOIN users u ON u.id = p.user_id";

/// One helper's profile.
pub async fn get(conn: &mut AnyConnection, user_id: &str) -> Result<Option<ProfileRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{PROFILE_SELECT} WHERE p.user_id = $1"));
    Ok(sqlx::query_as(sql).bind(user_id).fetch_optional(conn).await?)
}

/// Helpers after `cursor` (by id), optionally only those whose skills include `skill`.
pub async fn list(conn: &mut AnyConnection, skill: Option<&str>, cursor: Option<&str>, limit: i64) -> Result<Vec<ProfileRow>, StoreError> {
    // Skills are a JSON array of [a-z0-9_] names, so matching the quoted name is exact.
    let pattern = skill.map(|s| format!("%\"{s}\"%"));
    let sql = sqlx::AssertSqlSafe(format!(
        "{PROFILE_SELECT} WHERE ($1 IS NULL OR p.skills LIKE $1) AND ($2 IS NULL OR p.user_id > $2)
         ORDER BY p.user_id LIMIT $3"
    ));
    Ok(sqlx::query_as(sql).bind(pattern).bind(cursor).bind(limit).fetch_all(conn).await?)
}

//! People and their sessions.
//!
//! Invariant: a refresh token is stored only as its SHA-256 hash, is used at most once, and a
//! second use of any token revokes its whole family.

use sqlx::AnyConnection;

use crate::StoreError;

/// A user row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    /// UUIDv7.
    pub id: String,
    /// Normalised e-mail.
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    /// Display name.
    pub name: String,
    /// customer, helper or operator.
    pub role: String,
    /// de, fr, it or en.
    pub locale: String,
    /// IANA zone for times shown to this person.
    pub time_zone: String,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub updated_at: i64,
}

const USER_COLUMNS: &str = "id, email, password_hash, name, role, locale, time_zone, created_at, updated_at";

/// Inserts a user. An e-mail already registered is [`StoreError::Duplicate`].
pub async fn insert(conn: &mut AnyConnection, u: &UserRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO users (id, email, password_hash, name, role, locale, time_zone, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&u.id)
    .bind(&u.email)
    .bind(&u.password_hash)
    .bind(&u.name)
    .bind(&u.role)
    .bind(&u.locale)
    .bind(&u.time_zone)
    .bind(u.created_at)
    .bind(u.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The user with this (normalised) e-mail.
pub async fn by_email(conn: &mut AnyConnection, email: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1"));
    Ok(sqlx::query_as(sql).bind(email).fetch_optional(conn).await?)
}

/// The user with this id.
pub async fn by_id(conn: &mut AnyConnection, id: &str) -> Result<Option<UserRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(conn).await?)
}

/// Changes a user's name, language and zone. Returns whether the user exists.
pub async fn update_profile(
    conn: &mut AnyConnection,
    id: &str,
    name: &str,
    locale: &str,
    time_zone: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE users SET name = $2, locale = $3, time_zone = $4, updated_at = $5 WHERE id = $1")
        .bind(id)
        .bind(name)
        .bind(locale)
        .bind(time_zone)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Number of users with a role (for the seed command's "already seeded" check).
pub async fn count_by_role(conn: &mut AnyConnection, role: &str) -> Result<i64, StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE role = $1").bind(role).fetch_one(conn).await?;
    Ok(n)
}

/// A refresh token row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    /// Row id.
    pub id: String,
    /// All tokens descended from one login share a family.
    pub family_id: String,
    /// Owner.
    pub user_id: String,
    /// SHA-256 of the token, hex.
    pub token_hash: String,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub expires_at: i64,
    /// Set when the token was exchanged for a new one.
    pub used_at: Option<i64>,
    /// Set when the family was revoked (logout or reuse).
    pub revoked_at: Option<i64>,
}

/// Stores a new refresh token.
pub async fn insert_refresh(conn: &mut AnyConnection, r: &RefreshRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO refresh_tokens (id, family_id, user_id, token_hash, created_at, expires_at, used_at, revoked_at)
         VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
    )
    .bind(&r.id)
    .bind(&r.family_id)
    .bind(&r.user_id)
    .bind(&r.token_hash)
    .bind(r.created_at)
    .bind(r.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// The token with this hash.
pub async fn refresh_by_hash(conn: &mut AnyConnection, hash: &str) -> Result<Option<RefreshRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, family_id, user_id, token_hash, created_at, expires_at, used_at, revoked_at
         FROM refresh_tokens WHERE token_hash = $1",
    )
    .bind(hash)
    .fetch_optional(conn)
    .await?)
}

/// Marks a token used, only if nobody used it first. `false` means it was already used: reuse.
pub async fn use_refresh(conn: &mut AnyConnection, id: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL")
        .bind(id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Revokes every token of a family.
pub async fn revoke_family(conn: &mut AnyConnection, family_id: &str, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family_id = $1 AND revoked_at IS NULL")
        .bind(family_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Revokes every token a user holds.
pub async fn revoke_all_for_user(conn: &mut AnyConnection, user_id: &str, now: i64) -> Result<u64, StoreError> {
    let r = sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user_id)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected())
}

/// Sets a new password hash.
pub async fn set_password(conn: &mut AnyConnection, id: &str, hash: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(hash)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// How many mails of `template` were queued for a user since `since` (epoch ms).
pub async fn mails_since(conn: &mut AnyConnection, user_id: &str, template: &str, since: i64) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE recipient_id = $1 AND template = $2 AND created_at >= $3")
        .bind(user_id)
        .bind(template)
        .bind(since)
        .fetch_one(conn)
        .await?)
}

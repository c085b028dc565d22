//! Messages inside a booking, and reviews both ways.

use crate::{Conn, StoreError};

/// A message row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MessageRow {
    /// UUIDv7.
    pub id: String,
    /// The booking.
    pub booking_id: String,
    /// Who wrote it.
    pub author_id: String,
    /// customer, helper or operator.
    pub author_role: String,
    /// The text.
    pub body: String,
    /// Epoch ms.
    pub created_at: i64,
}

/// Stores a message.
pub async fn insert_message(conn: &mut Conn, m: &MessageRow) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO messages (id, booking_id, author_id, author_role, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&m.id)
        .bind(&m.booking_id)
        .bind(&m.author_id)
        .bind(&m.author_role)
        .bind(&m.body)
        .bind(m.created_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// A booking's messages, oldest first.
pub async fn messages(conn: &mut Conn, booking_id: &str) -> Result<Vec<MessageRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, booking_id, author_id, author_role, body, created_at FROM messages WHERE booking_id = $1 ORDER BY created_at, id",
    )
    .bind(booking_id)
    .fetch_all(conn)
    .await?)
}

/// A review row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReviewRow {
    /// The booking.
    pub booking_id: String,
    /// customer or helper.
    pub author_role: String,
    /// Who wrote it.
    pub author_id: String,
    /// Who it is about.
    pub subject_id: String,
    /// 1..=5.
    pub rating: i64,
    /// The text.
    pub body: String,
    /// Epoch ms.
    pub created_at: i64,
}

/// Stores a review; a second review by the same side of the same booking is a Duplicate.
pub async fn insert_review(conn: &mut Conn, r: &ReviewRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO reviews (booking_id, author_role, author_id, subject_id, rating, body, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&r.booking_id)
    .bind(&r.author_role)
    .bind(&r.author_id)
    .bind(&r.subject_id)
    .bind(r.rating)
    .bind(&r.body)
    .bind(r.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A booking's reviews.
pub async fn reviews(conn: &mut Conn, booking_id: &str) -> Result<Vec<ReviewRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT booking_id, author_role, author_id, subject_id, rating, body, created_at FROM reviews WHERE booking_id = $1 ORDER BY author_role",
    )
    .bind(booking_id)
    .fetch_all(conn)
    .await?)
}

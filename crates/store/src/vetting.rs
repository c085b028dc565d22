//! Helper applications and the operators' audit log.
//!
//! Invariant: a decision only moves an application from the state the operator saw (a conditional
//! update), and each decision is written to the audit log in the same transaction.

use crate::{Conn, StoreError};

/// An application row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApplicationRow {
    /// The helper.
    pub user_id: String,
    /// applied, approved, rejected, suspended or appealed.
    pub status: String,
    /// Name as on the identity document.
    pub legal_name: String,
    /// ISO date.
    pub birth_date: String,
    /// Where payouts go (checked).
    pub iban: String,
    /// The code-of-conduct answers, JSON.
    pub quiz: String,
    /// Epoch ms.
    pub submitted_at: i64,
    /// Epoch ms of the last decision.
    pub decided_at: Option<i64>,
    /// The operator of the last decision.
    pub decided_by: Option<String>,
    /// The reason the helper sees.
    pub reason: Option<String>,
    /// The helper's appeal.
    pub appeal: Option<String>,
    /// Epoch ms.
    pub appealed_at: Option<i64>,
    /// The operator whose decision is appealed (who may not decide the appeal).
    pub appeal_against: Option<String>,
}

const COLUMNS: &str = "user_id, status, legal_name, birth_date, iban, quiz, submitted_at, decided_at, decided_by, reason, appeal, appealed_at, appeal_against";

/// Submits (or, after a rejection without appeal, resubmits) an application.
pub async fn submit(conn: &mut Conn, a: &ApplicationRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO helper_applications (user_id, status, legal_name, birth_date, iban, quiz, submitted_at)
         VALUES ($1, 'applied', $2, $3, $4, $5, $6)",
    )
    .bind(&a.user_id)
    .bind(&a.legal_name)
    .bind(&a.birth_date)
    .bind(&a.iban)
    .bind(&a.quiz)
    .bind(a.submitted_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// One helper's application.
pub async fn get(conn: &mut Conn, user_id: &str) -> Result<Option<ApplicationRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM helper_applications WHERE user_id = $1"));
    Ok(sqlx::query_as(sql).bind(user_id).fetch_optional(conn).await?)
}

/// Applications in a status, oldest first, after the cursor `(submitted_at, user_id)`.
pub async fn by_status(conn: &mut Conn, status: &str, after: Option<(i64, String)>, limit: i64) -> Result<Vec<ApplicationRow>, StoreError> {
    let (at, id) = after.unwrap_or((i64::MIN, String::new()));
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM helper_applications WHERE status = $1 AND (submitted_at > $2 OR (submitted_at = $2 AND user_id > $3))
         ORDER BY submitted_at, user_id LIMIT $4"
    ));
    Ok(sqlx::query_as(sql).bind(status).bind(at).bind(id).bind(limit).fetch_all(conn).await?)
}

/// Moves an application from `from` to `to` with a reason; `false` if it was no longer in `from`.
pub async fn decide(
    conn: &mut Conn,
    user_id: &str,
    from: &str,
    to: &str,
    operator: &str,
    reason: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE helper_applications SET status = $3, decided_at = $4, decided_by = $5, reason = $6 WHERE user_id = $1 AND status = $2",
    )
    .bind(user_id)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(operator)
    .bind(reason)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Records the helper's one appeal against a rejection or suspension; `false` if not possible.
pub async fn appeal(conn: &mut Conn, user_id: &str, text: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE helper_applications SET status = 'appealed', appeal = $2, appealed_at = $3, appeal_against = decided_by
         WHERE user_id = $1 AND status IN ('rejected', 'suspended') AND appeal IS NULL",
    )
    .bind(user_id)
    .bind(text)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether a helper is approved (only approved helpers receive offers).
pub async fn is_approved(conn: &mut Conn, user_id: &str) -> Result<bool, StoreError> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT status FROM helper_applications WHERE user_id = $1").bind(user_id).fetch_optional(conn).await?;
    Ok(row.is_some_and(|(s,)| s == "approved"))
}

/// Every approved helper's id.
pub async fn approved_ids(conn: &mut Conn) -> Result<Vec<String>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT user_id FROM helper_applications WHERE status = 'approved'").fetch_all(conn).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// Writes an audit entry.
pub async fn audit(
    conn: &mut Conn,
    id: &str,
    operator: &str,
    action: &str,
    subject: &str,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_log (id, at, operator_id, action, subject_id, reason) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(now)
        .bind(operator)
        .bind(action)
        .bind(subject)
        .bind(reason)
        .execute(conn)
        .await?;
    Ok(())
}

/// Audit entries about a subject, oldest first: (at, operator, action, reason).
pub async fn audit_of(conn: &mut Conn, subject: &str) -> Result<Vec<(i64, String, String, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT at, operator_id, action, reason FROM audit_log WHERE subject_id = $1 ORDER BY at, id")
        .bind(subject)
        .fetch_all(conn)
        .await?)
}

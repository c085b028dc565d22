//! The ledger as stored, and versioned policies.
//!
//! Invariant: a ledger transaction is written with all its postings in the caller's transaction,
//! and only balanced transactions exist (`quartier_pricing::Transaction` cannot be built
//! otherwise), so the postings of every transaction sum to zero.

use quartier_pricing::{Account, Policy, Transaction};

use crate::{Conn, StoreError};

/// Writes a balanced transaction for a booking.
pub async fn post(conn: &mut Conn, id: &str, booking_id: &str, helper_id: &str, t: &Transaction, now: i64) -> Result<(), StoreError> {
    let detail = serde_json::to_string(&t.kind()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query("INSERT INTO ledger_transactions (id, booking_id, helper_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id)
        .bind(booking_id)
        .bind(helper_id)
        .bind(t.kind().as_str())
        .bind(detail)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    for (i, p) in t.postings().iter().enumerate() {
        sqlx::query("INSERT INTO ledger_postings (transaction_id, seq, account, amount_rappen) VALUES ($1, $2, $3, $4)")
            .bind(id)
            .bind(i64::try_from(i).unwrap_or(i64::MAX))
            .bind(p.account.as_str())
            .bind(p.amount_rappen)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// A stored posting with its transaction.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PostingRow {
    /// The transaction.
    pub transaction_id: String,
    /// The booking.
    pub booking_id: String,
    /// Transaction kind name.
    pub kind: String,
    /// The kind with its details, JSON.
    pub detail: String,
    /// Account name.
    pub account: String,
    /// Debit positive, credit negative.
    pub amount_rappen: i64,
    /// Epoch ms.
    pub created_at: i64,
}

const POSTINGS: &str = "SELECT t.id AS transaction_id, t.booking_id, t.kind, t.detail, p.account, p.amount_rappen, t.created_at
     FROM ledger_transactions t JOIN ledger_postings p ON p.transaction_id = t.id";

/// A booking's postings, in order.
pub async fn postings_of_booking(conn: &mut Conn, booking_id: &str) -> Result<Vec<PostingRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("{POSTINGS} WHERE t.booking_id = $1 ORDER BY t.created_at, t.id, p.seq"));
    Ok(sqlx::query_as(sql).bind(booking_id).fetch_all(conn).await?)
}

/// A helper's postings between two instants (epoch ms), in order.
pub async fn postings_of_helper(conn: &mut Conn, helper_id: &str, from: i64, to: i64) -> Result<Vec<PostingRow>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "{POSTINGS} WHERE t.helper_id = $1 AND t.created_at >= $2 AND t.created_at < $3 ORDER BY t.created_at, t.id, p.seq"
    ));
    Ok(sqlx::query_as(sql).bind(helper_id).bind(from).bind(to).fetch_all(conn).await?)
}

/// The sum of every posting ever written (zero in a sound ledger).
pub async fn total(conn: &mut Conn) -> Result<i64, StoreError> {
    // SUM(BIGINT) is NUMERIC on PostgreSQL, which the Any driver cannot read: cast it back.
    let (n,): (i64,) =
        sqlx::query_as("SELECT CAST(COALESCE(SUM(amount_rappen), 0) AS BIGINT) FROM ledger_postings").fetch_one(conn).await?;
    Ok(n)
}

/// The transactions stored as these postings (rows in order, grouped by transaction).
pub fn transactions(rows: &[PostingRow]) -> Result<Vec<Transaction>, StoreError> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let id = &rows[i].transaction_id;
        let group: Vec<&PostingRow> = rows[i..].iter().take_while(|r| &r.transaction_id == id).collect();
        i += group.len();
        let kind: quartier_pricing::TransactionKind =
            serde_json::from_str(&group[0].detail).map_err(|e| StoreError::Corrupt(format!("ledger kind: {e}")))?;
        let postings = group
            .iter()
            .map(|r| {
                Account::parse(&r.account)
                    .map(|account| quartier_pricing::Posting { account, amount_rappen: r.amount_rappen })
                    .ok_or_else(|| StoreError::Corrupt(format!("ledger account {}", r.account)))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(Transaction::new(kind, postings).map_err(|e| StoreError::Corrupt(format!("ledger: {e}")))?);
    }
    Ok(out)
}

/// The balances of one booking, rebuilt from its stored transactions.
pub fn balances(rows: &[PostingRow]) -> Result<quartier_pricing::ledger::Balances, StoreError> {
    let txs = transactions(rows)?;
    let mut b = quartier_pricing::ledger::Balances::new();
    for t in &txs {
        b.apply(t).map_err(|e| StoreError::Corrupt(format!("ledger: {e}")))?;
    }
    Ok(b)
}

/// Stores the default policy when there is none yet.
pub async fn ensure_policy(conn: &mut Conn, policy: &Policy, now: i64) -> Result<(), StoreError> {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM policies").fetch_one(&mut *conn).await?;
    if n == 0 {
        publish_policy(conn, policy, None, now).await?;
    }
    Ok(())
}

/// Publishes a policy version (a duplicate version is [`StoreError::Duplicate`]).
pub async fn publish_policy(conn: &mut Conn, policy: &Policy, by: Option<&str>, now: i64) -> Result<(), StoreError> {
    let body = serde_json::to_string(policy).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    sqlx::query("INSERT INTO policies (version, body, published_at, published_by) VALUES ($1, $2, $3, $4)")
        .bind(i64::from(policy.version))
        .bind(body)
        .bind(now)
        .bind(by)
        .execute(conn)
        .await?;
    Ok(())
}

/// The policy in force (the highest version).
pub async fn current_policy(conn: &mut Conn) -> Result<Option<Policy>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT body FROM policies ORDER BY version DESC LIMIT 1").fetch_optional(conn).await?;
    row.map(|(b,)| serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("policy: {e}")))).transpose()
}

/// One policy version.
pub async fn policy(conn: &mut Conn, version: i64) -> Result<Option<Policy>, StoreError> {
    let row: Option<(String,)> = sqlx::query_as("SELECT body FROM policies WHERE version = $1").bind(version).fetch_optional(conn).await?;
    row.map(|(b,)| serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("policy: {e}")))).transpose()
}

/// Every policy version, newest first.
pub async fn policies(conn: &mut Conn) -> Result<Vec<Policy>, StoreError> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT body FROM policies ORDER BY version DESC").fetch_all(conn).await?;
    rows.into_iter().map(|(b,)| serde_json::from_str(&b).map_err(|e| StoreError::Corrupt(format!("policy: {e}")))).collect()
}

/// A helper's billing details.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BillingRow {
    /// The helper.
    pub user_id: String,
    /// Where customers pay invoices to.
    pub iban: String,
    /// 0/1.
    pub vat_registered: i64,
    /// Street.
    pub street: String,
    /// House number.
    pub house_number: String,
    /// Postcode.
    pub postcode: String,
    /// Town.
    pub town: String,
    /// Epoch ms.
    pub updated_at: i64,
}

/// Creates or replaces billing details.
pub async fn put_billing(conn: &mut Conn, b: &BillingRow) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO helper_billing (user_id, iban, vat_registered, street, house_number, postcode, town, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (user_id) DO UPDATE SET iban = excluded.iban, vat_registered = excluded.vat_registered,
             street = excluded.street, house_number = excluded.house_number, postcode = excluded.postcode,
             town = excluded.town, updated_at = excluded.updated_at",
    )
    .bind(&b.user_id)
    .bind(&b.iban)
    .bind(b.vat_registered)
    .bind(&b.street)
    .bind(&b.house_number)
    .bind(&b.postcode)
    .bind(&b.town)
    .bind(b.updated_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// A helper's billing details.
pub async fn billing(conn: &mut Conn, user_id: &str) -> Result<Option<BillingRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT user_id, iban, vat_registered, street, house_number, postcode, town, updated_at FROM helper_billing WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_optional(conn)
    .await?)
}

//! Rows behind helpers' reputation: their history in the window, levels and their changes,
//! contested figures, badges, the ranking opt-in, and preview services.

use quartier_matching::reputation::HistoryItem;

use crate::{Conn, StoreError};

#[derive(sqlx::FromRow)]
struct BookingHistory {
    id: String,
    state: String,
    created_at: i64,
    failure_cause: Option<String>,
    answered_at: Option<i64>,
    accepted_events: i64,
    offer_created: Option<i64>,
    offer_answered: Option<i64>,
    rating: Option<i64>,
    dispute_outcome: Option<String>,
    dispute_penalty: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct OfferHistory {
    request_id: String,
    state: String,
    created_at: i64,
    answered_at: Option<i64>,
}

/// The helper's history since `since` (epoch ms): their bookings and the offers they did not win,
/// without the bookings of accepted contests.
pub async fn history(conn: &mut Conn, helper_id: &str, since: i64) -> Result<Vec<HistoryItem>, StoreError> {
    let rows: Vec<BookingHistory> = sqlx::query_as(
        "SELECT b.id, b.state, b.created_at, b.failure_cause,
                (SELECT MIN(e.at) FROM booking_events e WHERE e.booking_id = b.id AND e.action IN ('accept', 'decline')) AS answered_at,
                (SELECT COUNT(*) FROM booking_events e WHERE e.booking_id = b.id AND e.action = 'accept') AS accepted_events,
                (SELECT o.created_at FROM offers o WHERE o.request_id = b.id AND o.helper_id = b.helper_id) AS offer_created,
                (SELECT o.answered_at FROM offers o WHERE o.request_id = b.id AND o.helper_id = b.helper_id) AS offer_answered,
                (SELECT CAST(v.rating AS BIGINT) FROM reviews v WHERE v.booking_id = b.id AND v.author_role = 'customer') AS rating,
                (SELECT d.outcome FROM disputes d WHERE d.booking_id = b.id) AS dispute_outcome,
                (SELECT d.penalty_rappen FROM disputes d WHERE d.booking_id = b.id) AS dispute_penalty
         FROM bookings b
         WHERE b.helper_id = $1 AND b.created_at >= $2
           AND b.id NOT IN (SELECT c.booking_id FROM metric_contests c WHERE c.helper_id = $1 AND c.status = 'accepted' AND c.booking_id IS NOT NULL)",
    )
    .bind(helper_id)
    .bind(since)
    .fetch_all(&mut *conn)
    .await?;
    let mut out: Vec<HistoryItem> = rows
        .into_iter()
        .map(|r| {
            let from_broadcast = r.offer_created.is_some();
            let answer = match (r.offer_created, r.offer_answered) {
                (Some(c), Some(a)) => Some(a - c),
                _ if from_broadcast => None,
                _ => r.answered_at.map(|a| a - r.created_at),
            };
            let accepted = r.accepted_events > 0 || from_broadcast;
            HistoryItem {
                counts_for_acceptance: r.state != "requested",
                answer_minutes: answer.map(|ms| ms.max(0) as f64 / 60_000.0),
                accepted,
                id: r.id,
                state: Some(r.state),
                rating: r.rating.and_then(|x| u8::try_from(x).ok()),
                failure_cause: r.failure_cause,
                dispute_outcome: r.dispute_outcome,
                dispute_penalty: r.dispute_penalty.unwrap_or(0),
            }
        })
        .collect();
    let offers: Vec<OfferHistory> = sqlx::query_as(
        "SELECT request_id, state, created_at, answered_at FROM offers
         WHERE helper_id = $1 AND created_at >= $2 AND state IN ('declined', 'expired', 'lost')",
    )
    .bind(helper_id)
    .bind(since)
    .fetch_all(conn)
    .await?;
    out.extend(offers.into_iter().map(|o| HistoryItem {
        id: o.request_id,
        state: None,
        answer_minutes: o.answered_at.filter(|_| o.state == "declined").map(|a| (a - o.created_at).max(0) as f64 / 60_000.0),
        accepted: false,
        // An offer someone else took first is not held against anyone.
        counts_for_acceptance: o.state != "lost",
        rating: None,
        failure_cause: None,
        dispute_outcome: None,
        dispute_penalty: 0,
    }));
    Ok(out)
}

/// A helper's stored level: (level, since, reason).
pub async fn level(conn: &mut Conn, helper_id: &str) -> Result<Option<(String, i64, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT level, since, reason FROM helper_levels WHERE helper_id = $1").bind(helper_id).fetch_optional(conn).await?)
}

/// Every stored level (for the match index).
pub async fn levels(conn: &mut Conn) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT helper_id, level FROM helper_levels").fetch_all(conn).await?)
}

/// Stores a level; when it changed, also the change. Returns the previous level.
pub async fn set_level(
    conn: &mut Conn,
    change_id: &str,
    helper_id: &str,
    level: &str,
    reason: &str,
    now: i64,
) -> Result<Option<String>, StoreError> {
    let before = self::level(conn, helper_id).await?.map(|(l, ..)| l);
    match &before {
        Some(l) if l == level => {
            sqlx::query("UPDATE helper_levels SET reason = $2, computed_at = $3 WHERE helper_id = $1")
                .bind(helper_id)
                .bind(reason)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
        _ => {
            sqlx::query(
                "INSERT INTO helper_levels (helper_id, level, since, reason, computed_at) VALUES ($1, $2, $3, $4, $3)
                 ON CONFLICT (helper_id) DO UPDATE SET level = excluded.level, since = excluded.since, reason = excluded.reason,
                     computed_at = excluded.computed_at",
            )
            .bind(helper_id)
            .bind(level)
            .bind(now)
            .bind(reason)
            .execute(&mut *conn)
            .await?;
            if before.is_none() && level == "new" {
                // The first computation of a new helper's level is not a change.
                return Ok(before);
            }
            sqlx::query("INSERT INTO level_changes (id, helper_id, from_level, to_level, reason, at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(change_id)
                .bind(helper_id)
                .bind(before.as_deref().unwrap_or("new"))
                .bind(level)
                .bind(reason)
                .bind(now)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(before)
}

/// A level change.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LevelChange {
    /// From.
    pub from_level: String,
    /// To.
    pub to_level: String,
    /// Why.
    pub reason: String,
    /// Epoch ms.
    pub at: i64,
}

/// A helper's level changes, newest first.
pub async fn changes(conn: &mut Conn, helper_id: &str) -> Result<Vec<LevelChange>, StoreError> {
    Ok(sqlx::query_as("SELECT from_level, to_level, reason, at FROM level_changes WHERE helper_id = $1 ORDER BY at DESC, id DESC LIMIT 50")
        .bind(helper_id)
        .fetch_all(conn)
        .await?)
}

/// Signed-off jobs per service (all time): (slug, name, skill, count).
pub async fn jobs_per_service(conn: &mut Conn, helper_id: &str) -> Result<Vec<(String, String, String, i64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT b.service_slug, s.name, s.skill, COUNT(*) FROM bookings b JOIN services s ON s.slug = b.service_slug
         WHERE b.helper_id = $1 AND b.state = 'done' GROUP BY b.service_slug, s.name, s.skill ORDER BY COUNT(*) DESC, b.service_slug",
    )
    .bind(helper_id)
    .fetch_all(conn)
    .await?)
}

/// Skills with at least `min` signed-off jobs, per helper (for the match index).
pub async fn proven_skills(conn: &mut Conn, min: i64) -> Result<Vec<(String, String)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT b.helper_id, s.skill FROM bookings b JOIN services s ON s.slug = b.service_slug
         WHERE b.state = 'done' GROUP BY b.helper_id, s.skill HAVING COUNT(*) >= $1",
    )
    .bind(min)
    .fetch_all(conn)
    .await?)
}

/// A contested figure.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Contest {
    /// Id.
    pub id: String,
    /// The helper.
    pub helper_id: String,
    /// The figure's name.
    pub figure: String,
    /// The booking the helper says is counted wrongly.
    pub booking_id: Option<String>,
    /// The helper's words.
    pub text: String,
    /// open, accepted, rejected.
    pub status: String,
    /// The operator's answer.
    pub answer: Option<String>,
    /// The operator.
    pub decided_by: Option<String>,
    /// Epoch ms.
    pub created_at: i64,
    /// Epoch ms.
    pub decided_at: Option<i64>,
}

const CONTEST_COLUMNS: &str = "id, helper_id, figure, booking_id, text, status, answer, decided_by, created_at, decided_at";

/// Files a contest.
pub async fn contest(conn: &mut Conn, c: &Contest) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO metric_contests (id, helper_id, figure, booking_id, text, status, created_at) VALUES ($1, $2, $3, $4, $5, 'open', $6)",
    )
    .bind(&c.id)
    .bind(&c.helper_id)
    .bind(&c.figure)
    .bind(&c.booking_id)
    .bind(&c.text)
    .bind(c.created_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Contests of a helper, newest first.
pub async fn contests_of(conn: &mut Conn, helper_id: &str) -> Result<Vec<Contest>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!(
        "SELECT {CONTEST_COLUMNS} FROM metric_contests WHERE helper_id = $1 ORDER BY created_at DESC, id DESC"
    ));
    Ok(sqlx::query_as(sql).bind(helper_id).fetch_all(conn).await?)
}

/// Contests in a status, oldest first.
pub async fn contests(conn: &mut Conn, status: &str, limit: i64) -> Result<Vec<Contest>, StoreError> {
    let sql =
        sqlx::AssertSqlSafe(format!("SELECT {CONTEST_COLUMNS} FROM metric_contests WHERE status = $1 ORDER BY created_at, id LIMIT $2"));
    Ok(sqlx::query_as(sql).bind(status).bind(limit).fetch_all(conn).await?)
}

/// One contest.
pub async fn contest_by_id(conn: &mut Conn, id: &str) -> Result<Option<Contest>, StoreError> {
    let sql = sqlx::AssertSqlSafe(format!("SELECT {CONTEST_COLUMNS} FROM metric_contests WHERE id = $1"));
    Ok(sqlx::query_as(sql).bind(id).fetch_optional(conn).await?)
}

/// Decides an open contest; `false` when it was no longer open.
pub async fn decide_contest(conn: &mut Conn, id: &str, status: &str, answer: &str, operator: &str, now: i64) -> Result<bool, StoreError> {
    let r = sqlx::query(
        "UPDATE metric_contests SET status = $2, answer = $3, decided_by = $4, decided_at = $5 WHERE id = $1 AND status = 'open'",
    )
    .bind(id)
    .bind(status)
    .bind(answer)
    .bind(operator)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(r.rows_affected() == 1)
}

/// Sets a helper's opt-in to the neighbourhood ranking.
pub async fn set_ranking_opt_in(conn: &mut Conn, helper_id: &str, opt_in: bool) -> Result<bool, StoreError> {
    let r = sqlx::query("UPDATE helper_profiles SET ranking_opt_in = $2 WHERE user_id = $1")
        .bind(helper_id)
        .bind(i64::from(opt_in))
        .execute(conn)
        .await?;
    Ok(r.rows_affected() == 1)
}

/// Whether a helper opted in.
pub async fn ranking_opt_in(conn: &mut Conn, helper_id: &str) -> Result<bool, StoreError> {
    let v: Option<i64> =
        sqlx::query_scalar("SELECT ranking_opt_in FROM helper_profiles WHERE user_id = $1").bind(helper_id).fetch_optional(conn).await?;
    Ok(v.unwrap_or(0) != 0)
}

/// A ranking candidate: an opted-in, approved helper with their month's figures.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RankingRow {
    /// The helper.
    pub helper_id: String,
    /// Public name.
    pub name: String,
    /// Private home (only to find the neighbourhood; never returned).
    pub home_lat: f64,
    /// Private home.
    pub home_lon: f64,
    /// Jobs done in the month.
    pub jobs: i64,
    /// Sum of the month's customer ratings.
    pub rating_sum: i64,
    /// Their count.
    pub ratings: i64,
}

/// Opted-in approved helpers with their jobs done and ratings in `[from, to)`.
pub async fn ranking(conn: &mut Conn, from: i64, to: i64) -> Result<Vec<RankingRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT p.user_id AS helper_id, u.name, p.home_lat, p.home_lon,
                (SELECT COUNT(*) FROM bookings b WHERE b.helper_id = p.user_id AND b.state = 'done'
                   AND b.completed_at >= $1 AND b.completed_at < $2) AS jobs,
                (SELECT CAST(COALESCE(SUM(v.rating), 0) AS BIGINT) FROM reviews v JOIN bookings b ON b.id = v.booking_id
                   WHERE v.subject_id = p.user_id AND v.author_role = 'customer' AND b.completed_at >= $1 AND b.completed_at < $2) AS rating_sum,
                (SELECT COUNT(*) FROM reviews v JOIN bookings b ON b.id = v.booking_id
                   WHERE v.subject_id = p.user_id AND v.author_role = 'customer' AND b.completed_at >= $1 AND b.completed_at < $2) AS ratings
         FROM helper_profiles p JOIN users u ON u.id = p.user_id
         JOIN helper_applications a ON a.user_id = p.user_id AND a.status = 'approved'
         WHERE p.ranking_opt_in = 1",
    )
    .bind(from)
    .bind(to)
    .fetch_all(conn)
    .await?)
}

/// Approved super-helpers with their home (for invitations to a region).
pub async fn super_helpers(conn: &mut Conn) -> Result<Vec<(String, f64, f64)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT l.helper_id, p.home_lat, p.home_lon FROM helper_levels l
         JOIN helper_profiles p ON p.user_id = l.helper_id
         JOIN helper_applications a ON a.user_id = l.helper_id AND a.status = 'approved'
         WHERE l.level = 'super'",
    )
    .fetch_all(conn)
    .await?)
}

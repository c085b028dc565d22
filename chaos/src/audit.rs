//! The auditor: after the run, SQL against the database (not the API) and the client journal.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use quartier_store::Store;
use sqlx::Row as _;

use crate::load::read_journal;

/// States in which a booking holds its helper's time (the overlap guard's states).
const ACTIVE: &str = "('requested', 'accepted', 'confirmed', 'en_route', 'on_site')";

/// What the auditor found; every field but the counts of keys must be 0.
#[derive(Debug, Default, Clone)]
pub struct Audit {
    /// Keys in the journal (attempts sent at least once).
    pub keys: usize,
    /// Keys acknowledged with 201.
    pub acked_created: usize,
    /// Keys acknowledged with a business 409.
    pub acked_taken: usize,
    /// Keys refused (another 4xx).
    pub refused: usize,
    /// Keys with no final answer (gave up).
    pub unresolved: usize,
    /// Keys that had a request cut off by a kill.
    pub cut_off_keys: usize,
    /// Bookings in the database.
    pub bookings: usize,
    /// Acknowledged booking ids missing in the database.
    pub lost: usize,
    /// More than one booking for one key's intent (customer, helper, start), beyond the first.
    pub dup_key: usize,
    /// A key acknowledged with booking id A while the database holds its intent as booking B.
    pub ack_mismatch: usize,
    /// A booking whose key was answered with a business 409 (the key's answer changed).
    pub phantom: usize,
    /// Bookings of keys that never got a final answer (allowed: the client gave up).
    pub unresolved_with_booking: usize,
    /// Bookings that match no attempt at all.
    pub unknown_bookings: usize,
    /// More than one active booking of one helper at one start, beyond the first.
    pub dup_slot: usize,
    /// Pairs of active bookings of one helper whose blocked times intersect.
    pub overlaps: usize,
    /// The sum of all postings.
    pub ledger_total: i64,
    /// Ledger transactions whose postings do not sum to zero.
    pub unbalanced_tx: usize,
    /// Bookings without an outbox row.
    pub orphan_bookings: usize,
    /// Outbox rows naming a booking that does not exist.
    pub orphan_outbox: usize,
    /// More than one outbox row per (booking, template, recipient), beyond the first.
    pub dup_outbox: usize,
}

impl Audit {
    /// Invariant violations, named.
    pub fn violations(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut check = |name: &str, n: usize| {
            if n > 0 {
                v.push(format!("{name} = {n}"));
            }
        };
        check("lost acknowledged bookings", self.lost);
        check("duplicates per key", self.dup_key + self.ack_mismatch);
        check("bookings of keys answered 409 (idempotency broken)", self.phantom);
        check("bookings matching no attempt", self.unknown_bookings);
        check("duplicates per slot", self.dup_slot);
        check("overlaps", self.overlaps);
        check("unbalanced ledger transactions", self.unbalanced_tx + usize::from(self.ledger_total != 0));
        check("bookings without outbox rows", self.orphan_bookings);
        check("outbox rows without booking", self.orphan_outbox);
        check("duplicate outbox rows", self.dup_outbox);
        v
    }
}

/// Audits the database at `url` against the journal.
pub async fn audit(url: &str, journal: &Path) -> anyhow::Result<Audit> {
    let store = Store::connect(url).await?;
    let result = audit_store(&store, journal).await;
    store.close().await;
    result
}

async fn audit_store(store: &Store, journal: &Path) -> anyhow::Result<Audit> {
    let mut a = Audit::default();
    let keys = read_journal(journal)?;
    let mut conn = store.pool().acquire().await?;

    // Every booking: id, customer, helper, start, state.
    let rows = sqlx::query("SELECT id, customer_id, helper_id, starts_at, state FROM bookings").fetch_all(&mut *conn).await?;
    a.bookings = rows.len();
    let mut by_id: HashSet<String> = HashSet::new();
    let mut by_intent: HashMap<(String, String, i64), Vec<String>> = HashMap::new();
    let mut active_slots: HashMap<(String, i64), usize> = HashMap::new();
    for r in &rows {
        let (id, c, h, s, state): (String, String, String, i64, String) =
            (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
        by_id.insert(id.clone());
        if ACTIVE.contains(&format!("'{state}'")) {
            *active_slots.entry((h.clone(), s)).or_default() += 1;
        }
        by_intent.entry((c, h, s)).or_default().push(id);
    }
    a.dup_slot = active_slots.values().map(|n| n.saturating_sub(1)).sum();
    a.dup_key = by_intent.values().map(|ids| ids.len().saturating_sub(1)).sum();

    let mut matched: HashSet<(String, String, i64)> = HashSet::new();
    for (_, k) in &keys {
        a.keys += 1;
        if k.cut_off() {
            a.cut_off_keys += 1;
        }
        let in_db = k.intent.as_ref().and_then(|i| by_intent.get(i));
        if let Some(i) = &k.intent {
            matched.insert(i.clone());
        }
        if let Some(id) = k.created() {
            a.acked_created += 1;
            if !by_id.contains(id) {
                a.lost += 1;
            }
            if in_db.is_some_and(|ids| !ids.iter().any(|x| x == id)) {
                a.ack_mismatch += 1;
            }
        } else if k.acked() {
            a.acked_taken += 1;
            if in_db.is_some() {
                a.phantom += 1;
            }
        } else if k.refused() {
            a.refused += 1;
            if in_db.is_some() {
                a.phantom += 1;
            }
        } else {
            a.unresolved += 1;
            if in_db.is_some() {
                a.unresolved_with_booking += 1;
            }
        }
    }
    a.unknown_bookings = by_intent.iter().filter(|(i, _)| !matched.contains(*i)).map(|(_, ids)| ids.len()).sum();

    let sql = format!(
        "SELECT COUNT(*) FROM bookings x JOIN bookings y ON x.helper_id = y.helper_id AND x.id < y.id
           AND x.blocked_from < y.blocked_to AND y.blocked_from < x.blocked_to
         WHERE x.state IN {ACTIVE} AND y.state IN {ACTIVE}"
    );
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(&mut *conn).await?;
    a.overlaps = usize::try_from(n).unwrap_or(usize::MAX);

    a.ledger_total = quartier_store::ledger::total(&mut conn).await?;
    let (n,): (i64,) = sqlx::query_as(
        "SELECT COUNT(*) FROM (SELECT transaction_id FROM ledger_postings GROUP BY transaction_id
           HAVING CAST(SUM(amount_rappen) AS BIGINT) <> 0) t",
    )
    .fetch_one(&mut *conn)
    .await?;
    a.unbalanced_tx = usize::try_from(n).unwrap_or(usize::MAX);

    // Outbox rows carry the booking in their payload.
    let outbox = sqlx::query("SELECT template, COALESCE(recipient_id, recipient_email), payload FROM outbox").fetch_all(&mut *conn).await?;
    let mut with_outbox: HashSet<String> = HashSet::new();
    let mut per_notice: HashMap<(String, String, String), usize> = HashMap::new();
    for r in &outbox {
        let (template, to, payload): (String, String, String) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?);
        let v: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
        let Some(b) = v["booking_id"].as_str() else { continue };
        if !by_id.contains(b) {
            a.orphan_outbox += 1;
        }
        with_outbox.insert(b.to_owned());
        *per_notice.entry((b.to_owned(), template, to)).or_default() += 1;
    }
    a.orphan_bookings = by_id.iter().filter(|id| !with_outbox.contains(*id)).count();
    a.dup_outbox = per_notice.values().map(|n| n.saturating_sub(1)).sum();
    Ok(a)
}

//! The in-memory match index as the API holds it: built from the database at start, updated
//! after every commit that touches a helper's profile, availability or bookings, refreshed from
//! the change feed so other replicas' writes arrive within a second, and rebuilt when the date
//! moves on.

use std::sync::RwLock;
use std::time::Duration;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use quartier_domain::UserId;
use quartier_matching::search::MatchIndex;
use quartier_store::matching::{LoadSpec, load_all, load_one};
use quartier_store::{Store, StoreError, availability};

/// Days the index covers: yesterday (for visits that run past midnight) and the next five weeks,
/// so a 31-day search window always fits.
pub const HORIZON_DAYS: u16 = 37;

/// The index behind a lock, with what it needs to reload helpers.
pub struct Matcher {
    index: RwLock<MatchIndex>,
    zone: TimeZone,
    default_buffers: (u32, u32),
}

fn first_date(zone: &TimeZone) -> Date {
    let today = Timestamp::now().to_zoned(zone.clone()).date();
    today.checked_sub(1.day()).unwrap_or(today)
}

impl Matcher {
    /// An empty matcher; call [`Matcher::rebuild`] to fill it.
    pub fn new(zone: TimeZone, default_buffers: (u32, u32)) -> Self {
        let index = MatchIndex::new(&zone, first_date(&zone), HORIZON_DAYS);
        Self { index: RwLock::new(index), zone, default_buffers }
    }

    /// The default zone.
    pub fn zone(&self) -> &TimeZone {
        &self.zone
    }

    fn spec(&self, first: Date) -> LoadSpec {
        let from = first.to_zoned(self.zone.clone()).map(|z| z.timestamp().as_millisecond()).unwrap_or(0);
        let to = from + i64::from(HORIZON_DAYS + 1) * 86_400_000;
        LoadSpec {
            first_date: first,
            from_ms: from,
            to_ms: to,
            now_ms: Timestamp::now().as_millisecond(),
            default_zone: self.zone.clone(),
            default_buffers: self.default_buffers,
        }
    }

    /// Builds a fresh index from the database and swaps it in. Returns the number of helpers.
    pub async fn rebuild(&self, store: &Store) -> Result<usize, StoreError> {
        let first = first_date(&self.zone);
        let mut conn = store.pool().acquire().await?;
        let records = load_all(&mut conn, &self.spec(first)).await?;
        drop(conn);
        let mut index = MatchIndex::new(&self.zone, first, HORIZON_DAYS);
        for r in &records {
            index.upsert(r);
        }
        let n = index.len();
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = index;
        Ok(n)
    }

    /// Reloads one helper from the database (after a commit that changed them).
    pub async fn refresh(&self, store: &Store, helper: &str) -> Result<(), StoreError> {
        let first = self.read(|i| i.horizon().0);
        let mut conn = store.pool().acquire().await?;
        let record = load_one(&mut conn, helper, &self.spec(first)).await?;
        drop(conn);
        let mut index = self.index.write().unwrap_or_else(|p| p.into_inner());
        match record {
            Some(r) => index.upsert(&r),
            None => {
                if let Ok(id) = helper.parse::<UserId>() {
                    index.remove(id);
                }
            }
        }
        Ok(())
    }

    /// Runs `f` with the index under the read lock.
    pub fn read<T>(&self, f: impl FnOnce(&MatchIndex) -> T) -> T {
        f(&self.index.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Follows the change feed every `every` and rebuilds when the local date changes. Runs until
    /// `stop` turns true.
    pub async fn follow(&self, store: Store, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut since = Timestamp::now().as_millisecond() - 10_000;
        let mut last_prune = since;
        // Sequence numbers already applied, with the time they were seen (to forget them later).
        let mut seen: std::collections::HashMap<i64, i64> = std::collections::HashMap::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
            let now = Timestamp::now().as_millisecond();
            if first_date(&self.zone) != self.read(|i| i.horizon().0) {
                if let Err(e) = self.rebuild(&store).await {
                    tracing::error!(error = format!("{:#}", anyhow::Error::from(e)), "match index: rebuild failed");
                }
                continue;
            }
            // Changes commit a little after their timestamp; re-reading a 10 s overlap is cheap
            // and reloading a helper twice is harmless.
            let changed = match store.pool().acquire().await {
                Ok(mut conn) => availability::changed_since(&mut conn, since - 10_000).await,
                Err(e) => Err(e.into()),
            };
            match changed {
                Ok(rows) => {
                    let mut ids: Vec<String> =
                        rows.into_iter().filter(|(seq, _)| seen.insert(*seq, now).is_none()).map(|(_, id)| id).collect();
                    ids.sort();
                    ids.dedup();
                    for id in ids {
                        if let Err(e) = self.refresh(&store, &id).await {
                            tracing::warn!(error = format!("{:#}", anyhow::Error::from(e)), "match index: refresh failed");
                        }
                    }
                    seen.retain(|_, at| *at > now - 60_000);
                    since = now;
                }
                Err(e) => tracing::warn!(error = format!("{:#}", anyhow::Error::from(e)), "match index: change feed unreadable"),
            }
            if now - last_prune > 3_600_000
                && let Ok(mut conn) = store.pool().acquire().await
            {
                let _ = availability::prune_changes(&mut conn, now - 86_400_000).await;
                last_prune = now;
            }
        }
    }
}

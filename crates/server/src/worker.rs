//! The outbox worker: claims due messages with a lease, sends them, records the outcome, retries
//! transient failures with capped exponential backoff and jitter, and dead-letters permanent ones.
//!
//! Exactly-once in practice, at-least-once in theory:
//! - every claim carries a fresh token (`<worker id>-<claim number>`); only its holder can renew
//!   the lease or record an outcome (`outbox::mark_*` answer `false` otherwise), so a worker that
//!   stalled past its lease and was taken over can no longer finish the rows it lost;
//! - a heartbeat renews the lease of the batch every `lease / 3` while it is being sent, so a long
//!   batch is never taken over by another worker while this one still works on it; rows the
//!   renewal no longer returns were taken over and are dropped from the batch;
//! - a message is only started while the lease is known to outlast the send timeout (`lease / 2`),
//!   so a worker that cannot renew (the database is gone) stops sending before another may start.
//!
//! What remains is the window between the SMTP server's `250` and the `sent` write: a crash there
//! sends the message again later, with the same `Message-ID` (`<outbox id@domain>`).
//!
//! During an outage (a batch in which nothing could be sent and something failed transiently) the
//! worker pauses before its next claim, doubling from the backoff base up to a minute (or the cap),
//! so a growing backlog of due retries is probed a batch at a time instead of in a busy loop.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use quartier_booking::Notice;
use quartier_domain::Locale;
use quartier_notifications::{BookingNoticeData, DeliveryError, Mailer};
use quartier_store::{Store, StoreError, outbox};
use rand::Rng;
use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinSet;

/// Capped exponential backoff: after the n-th failed try the next one waits
/// `min(cap, base * 2^(n-1))`, shortened by a random 0-25% so that retries of many messages spread
/// out; the cap is never exceeded.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Wait after the first failure.
    pub base: Duration,
    /// Longest wait.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { base: Duration::from_secs(2), cap: Duration::from_secs(15 * 60) }
    }
}

impl Backoff {
    /// The wait after `attempts` tries, with random jitter.
    pub fn delay(&self, attempts: i64) -> Duration {
        self.delay_with(attempts, rand::rng().random_range(0.0..=1.0))
    }

    /// The wait after `attempts` tries; `jitter` in 0..=1 takes off up to a quarter.
    pub fn delay_with(&self, attempts: i64, jitter: f64) -> Duration {
        let exp = u32::try_from(attempts.clamp(1, 64) - 1).unwrap_or(0);
        let full = self.base.saturating_mul(2u32.saturating_pow(exp.min(31))).min(self.cap);
        full.mul_f64(1.0 - 0.25 * jitter.clamp(0.0, 1.0))
    }
}

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Poll interval when nothing wakes it.
    pub poll: Duration,
    /// How long a claim lasts without renewal; renewed every third of it while the batch is sent.
    /// A single message may take at most half of it.
    pub lease: Duration,
    /// Messages per claim.
    pub batch: i64,
    /// Messages of a batch sent at the same time (one SMTP connection each).
    pub concurrency: usize,
    /// Waits between tries after transient failures.
    pub backoff: Backoff,
    /// A message still failing transiently this long after it was queued goes to the dead letters.
    pub give_up_after: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(1),
            lease: Duration::from_secs(60),
            batch: 20,
            concurrency: 8,
            backoff: Backoff::default(),
            give_up_after: Duration::from_secs(96 * 3600),
        }
    }
}

impl WorkerConfig {
    /// The pacing the settings ask for (`outbox_*`).
    pub fn from_settings(settings: &crate::Settings) -> Self {
        Self {
            poll: Duration::from_millis(settings.outbox_poll_ms),
            lease: Duration::from_secs(settings.outbox_lease_secs.max(1)),
            batch: i64::from(settings.outbox_batch_size.max(1)),
            concurrency: settings.outbox_concurrency.max(1) as usize,
            backoff: Backoff {
                base: Duration::from_millis(settings.outbox_backoff_base_ms),
                cap: Duration::from_millis(settings.outbox_backoff_cap_ms.max(settings.outbox_backoff_base_ms)),
            },
            give_up_after: Duration::from_secs(settings.outbox_give_up_hours.saturating_mul(3600)),
        }
    }

    /// How often the lease of a batch in progress is renewed.
    pub fn renew_every(&self) -> Duration {
        self.lease / 3
    }

    /// The longest one message may take.
    pub fn send_timeout(&self) -> Duration {
        self.lease / 2
    }
}

/// One outbox worker; several may run against one database (in one process or many).
pub struct Worker {
    store: Store,
    mailer: Mailer,
    cfg: WorkerConfig,
    id: String,
    claims: AtomicU64,
}

/// A claimed batch: the messages not yet started and how long the claim is known to hold.
struct Batch {
    sent: AtomicU64,
    retried: AtomicU64,
    owner: String,
    queue: Mutex<VecDeque<outbox::OutboxRow>>,
    held_until: Mutex<Instant>,
}

impl Batch {
    fn next(&self) -> Option<outbox::OutboxRow> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner).pop_front()
    }

    fn held_until(&self) -> Instant {
        *self.held_until.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What one claim came to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Messages claimed.
    pub claimed: usize,
    /// Of those, delivered.
    pub sent: u64,
    /// Of those, put back for a later try after a transient failure.
    pub retried: u64,
}

/// The longest pause between claims while nothing can be sent.
const MAX_OUTAGE_PAUSE: Duration = Duration::from_secs(60);

/// Runs one worker until `stop` turns true.
pub async fn run(store: Store, mailer: Mailer, cfg: WorkerConfig, wakeup: Arc<Notify>, stop: watch::Receiver<bool>) {
    Worker::new(store, mailer, cfg).run(wakeup, stop).await;
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Worker {
    /// A worker with a fresh id (the prefix of its claim tokens).
    pub fn new(store: Store, mailer: Mailer, cfg: WorkerConfig) -> Self {
        let cfg = WorkerConfig { concurrency: cfg.concurrency.max(1), batch: cfg.batch.max(1), ..cfg };
        Self { store, mailer, cfg, id: uuid::Uuid::new_v4().simple().to_string(), claims: AtomicU64::new(0) }
    }

    /// This worker's id: every claim token it writes starts with it.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Claims and sends batches until `stop` turns true.
    pub async fn run(self, wakeup: Arc<Notify>, mut stop: watch::Receiver<bool>) {
        tracing::debug!(worker = %self.id, "outbox worker started");
        let mut failing: i64 = 0;
        loop {
            let report = match self.tick().await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(error = format!("{:#}", anyhow::Error::from(e)), "outbox: claiming failed");
                    TickReport::default()
                }
            };
            if *stop.borrow() {
                return;
            }
            if report.sent == 0 && report.retried > 0 {
                // Nothing went out: the server is probably unreachable. Probe again later rather
                // than churn through every due retry; new messages wait for the probe too.
                failing += 1;
                let pause = self.cfg.backoff.delay(failing).min(self.cfg.backoff.cap).min(MAX_OUTAGE_PAUSE);
                tracing::warn!(
                    retried = report.retried,
                    pause_ms = millis(pause),
                    "outbox: nothing could be sent; pausing before the next claim"
                );
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => {}
                }
                if *stop.borrow() {
                    return;
                }
                continue;
            }
            if report.sent > 0 {
                failing = 0;
            }
            if report.claimed > 0 {
                continue;
            }
            tokio::select! {
                _ = wakeup.notified() => {}
                _ = tokio::time::sleep(self.cfg.poll) => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                return;
            }
        }
    }

    /// Claims one batch and handles it.
    pub async fn tick(&self) -> Result<TickReport, StoreError> {
        let owner = format!("{}-{}", self.id, self.claims.fetch_add(1, Ordering::Relaxed));
        let started = Instant::now();
        let now = now_ms();
        let rows = {
            let mut tx = self.store.begin().await?;
            let rows = outbox::claim(&mut tx, self.store.backend(), now, now + millis(self.cfg.lease), self.cfg.batch, &owner).await?;
            tx.commit().await?;
            rows
        };
        let n = rows.len();
        if n == 0 {
            return Ok(TickReport::default());
        }
        let batch = Arc::new(Batch {
            sent: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            owner,
            queue: Mutex::new(rows.into()),
            held_until: Mutex::new(started + self.cfg.lease),
        });
        let (stop_heartbeat, stopped) = oneshot::channel();
        let heartbeat = tokio::spawn(heartbeat(self.store.clone(), self.cfg, batch.clone(), stopped));
        let mut lanes = JoinSet::new();
        for _ in 0..self.cfg.concurrency.min(n) {
            lanes.spawn(lane(self.store.clone(), self.mailer.clone(), self.cfg, batch.clone()));
        }
        while let Some(done) = lanes.join_next().await {
            if let Err(e) = done {
                tracing::error!(error = %e, "outbox: a sending task failed; its message is retried after the lease");
            }
        }
        let _ = stop_heartbeat.send(());
        let _ = heartbeat.await;
        Ok(TickReport { claimed: n, sent: batch.sent.load(Ordering::Relaxed), retried: batch.retried.load(Ordering::Relaxed) })
    }
}

/// Renews the batch's lease every `lease / 3` until told to stop.
async fn heartbeat(store: Store, cfg: WorkerConfig, batch: Arc<Batch>, mut stop: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(cfg.renew_every()) => {}
            _ = &mut stop => return,
        }
        let asked = Instant::now();
        let renewed = async {
            let mut conn = store.pool().acquire().await?;
            outbox::renew(&mut conn, &batch.owner, now_ms() + millis(cfg.lease)).await
        }
        .await;
        match renewed {
            Ok(ids) => {
                *batch.held_until.lock().unwrap_or_else(PoisonError::into_inner) = asked + cfg.lease;
                let still: HashSet<String> = ids.into_iter().collect();
                let mut queue = batch.queue.lock().unwrap_or_else(PoisonError::into_inner);
                let before = queue.len();
                queue.retain(|r| still.contains(&r.id));
                if queue.len() < before {
                    tracing::warn!(lost = before - queue.len(), claim = %batch.owner, "outbox: messages were taken over by another worker; not sending them");
                }
            }
            Err(e) => {
                tracing::warn!(error = format!("{:#}", anyhow::Error::from(e)), claim = %batch.owner, "outbox: could not renew the lease");
            }
        }
    }
}

/// Sends messages of the batch one after the other until none is left.
async fn lane(store: Store, mailer: Mailer, cfg: WorkerConfig, batch: Arc<Batch>) {
    while let Some(row) = batch.next() {
        if Instant::now() + cfg.send_timeout() > batch.held_until() {
            // The lease could not be renewed in time: another worker may take these rows soon, so
            // this one must not start them.
            tracing::warn!(outbox.id = %row.id, claim = %batch.owner, "outbox: lease not renewed; leaving the message for the next claim");
            continue;
        }
        let outcome = tokio::time::timeout(cfg.send_timeout(), deliver(&mailer, &row))
            .await
            .unwrap_or_else(|_| Err(DeliveryError::Transient("timed out".into())));
        match &outcome {
            Ok(()) => batch.sent.fetch_add(1, Ordering::Relaxed),
            Err(DeliveryError::Transient(_)) => batch.retried.fetch_add(1, Ordering::Relaxed),
            Err(DeliveryError::Permanent(_)) => 0,
        };
        if let Err(e) = record(&store, &cfg, &batch.owner, &row, outcome).await {
            tracing::error!(outbox.id = %row.id, error = format!("{:#}", anyhow::Error::from(e)), "outbox: could not record the outcome; the message is retried after the lease");
        }
    }
}

/// Writes the outcome of one try, if this claim still holds the message.
async fn record(
    store: &Store,
    cfg: &WorkerConfig,
    owner: &str,
    row: &outbox::OutboxRow,
    outcome: Result<(), DeliveryError>,
) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    let now = now_ms();
    let held = match outcome {
        Ok(()) => {
            let held = outbox::mark_sent(&mut conn, &row.id, owner, now).await?;
            tracing::info!(outbox.id = %row.id, template = %row.template, attempts = row.attempts, "mail sent");
            held
        }
        Err(DeliveryError::Permanent(e)) => {
            let held = outbox::mark_dead(&mut conn, &row.id, owner, &e).await?;
            tracing::warn!(outbox.id = %row.id, attempts = row.attempts, error = %masked(&e, row), "mail dead-lettered");
            held
        }
        Err(DeliveryError::Transient(e)) if now - row.created_at >= millis(cfg.give_up_after) => {
            let why = format!("gave up after {} attempts over {} h; last error: {e}", row.attempts, cfg.give_up_after.as_secs() / 3600);
            let held = outbox::mark_dead(&mut conn, &row.id, owner, &why).await?;
            tracing::warn!(outbox.id = %row.id, attempts = row.attempts, error = %masked(&e, row), "mail dead-lettered: still failing after the give-up time");
            held
        }
        Err(DeliveryError::Transient(e)) => {
            let wait = cfg.backoff.delay(row.attempts);
            let held = outbox::mark_retry(&mut conn, &row.id, owner, now + millis(wait), &e).await?;
            tracing::warn!(outbox.id = %row.id, attempts = row.attempts, retry_in_ms = millis(wait), error = %masked(&e, row), "mail delayed; will retry");
            held
        }
    };
    if !held {
        tracing::warn!(outbox.id = %row.id, claim = %owner, "outbox: the lease was lost before the outcome was recorded; another worker owns the message now");
    }
    Ok(())
}

/// An SMTP error for the log: servers quote the recipient, whose address the log must not keep.
fn masked(error: &str, row: &outbox::OutboxRow) -> String {
    let mut out = error.replace(&row.recipient_email, "<recipient>");
    if !row.recipient_name.trim().is_empty() {
        out = out.replace(&row.recipient_name, "<recipient>");
    }
    out
}

async fn deliver(mailer: &Mailer, row: &outbox::OutboxRow) -> Result<(), DeliveryError> {
    if row.template == quartier_notifications::PASSWORD_RESET {
        let data: quartier_notifications::PasswordResetData =
            serde_json::from_str(&row.payload).map_err(|e| DeliveryError::Permanent(format!("unreadable payload: {e}")))?;
        let msg = quartier_notifications::render_password_reset(row.locale.parse().unwrap_or_default(), &data);
        return mailer.send(&row.recipient_name, &row.recipient_email, &row.id, &msg).await;
    }
    if row.template == quartier_notifications::LEVEL_CHANGED {
        let data: quartier_notifications::LevelChangeData =
            serde_json::from_str(&row.payload).map_err(|e| DeliveryError::Permanent(format!("unreadable payload: {e}")))?;
        let msg = quartier_notifications::render_level_change(row.locale.parse().unwrap_or_default(), &data);
        return mailer.send(&row.recipient_name, &row.recipient_email, &row.id, &msg).await;
    }
    if row.template == quartier_notifications::INVITATION {
        let data: quartier_notifications::InvitationData =
            serde_json::from_str(&row.payload).map_err(|e| DeliveryError::Permanent(format!("unreadable payload: {e}")))?;
        let msg = quartier_notifications::render_invitation(row.locale.parse().unwrap_or_default(), &data);
        return mailer.send(&row.recipient_name, &row.recipient_email, &row.id, &msg).await;
    }
    let notice: Notice = row.template.parse().map_err(|_| DeliveryError::Permanent(format!("unknown template {}", row.template)))?;
    let locale: Locale = row.locale.parse().unwrap_or_default();
    let data: BookingNoticeData =
        serde_json::from_str(&row.payload).map_err(|e| DeliveryError::Permanent(format!("unreadable payload: {e}")))?;
    let msg = quartier_notifications::render(notice, locale, &data);
    mailer.send(&row.recipient_name, &row.recipient_email, &row.id, &msg).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_and_never_exceeds_the_cap() {
        let b = Backoff::default();
        assert_eq!(b.delay_with(1, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay_with(2, 0.0), Duration::from_secs(4));
        assert_eq!(b.delay_with(3, 0.0), Duration::from_secs(8));
        assert_eq!(b.delay_with(10, 0.0), Duration::from_secs(15 * 60));
        assert_eq!(b.delay_with(1_000, 0.0), Duration::from_secs(15 * 60));
        assert_eq!(b.delay_with(0, 0.0), Duration::from_secs(2), "a row never tried counts as one try");
        // Jitter takes off at most a quarter.
        assert_eq!(b.delay_with(1, 1.0), Duration::from_millis(1_500));
        for attempts in 1..40 {
            let full = b.delay_with(attempts, 0.0);
            for _ in 0..50 {
                let d = b.delay(attempts);
                assert!(d <= full && d >= full.mul_f64(0.75), "attempt {attempts}: {d:?} outside [0.75, 1] x {full:?}");
                assert!(d <= b.cap);
            }
        }
    }

    #[test]
    fn jitter_spreads_retries() {
        let b = Backoff::default();
        let distinct: HashSet<Duration> = (0..100).map(|_| b.delay(5)).collect();
        assert!(distinct.len() > 50, "{} distinct waits", distinct.len());
    }

    #[test]
    fn short_backoff_for_tests() {
        let b = Backoff { base: Duration::from_millis(200), cap: Duration::from_secs(1) };
        let waits: Vec<u128> = (1..=5).map(|n| b.delay_with(n, 0.0).as_millis()).collect();
        assert_eq!(waits, [200, 400, 800, 1000, 1000]);
    }

    #[test]
    fn renewal_comes_well_before_the_lease_runs_out() {
        let cfg = WorkerConfig::default();
        assert!(cfg.renew_every() * 2 < cfg.lease);
        // After a renewal the lease outlasts a whole send plus the wait for the next renewal.
        assert!(cfg.renew_every() + cfg.send_timeout() < cfg.lease);
    }
}

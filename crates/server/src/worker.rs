//! The outbox worker: claims due messages with a lease, sends them, records the outcome, retries
//! transient failures with capped exponential backoff and jitter, and dead-letters permanent ones.

use std::sync::Arc;
use std::time::Duration;

use quartier_booking::Notice;
use quartier_domain::Locale;
use quartier_notifications::{BookingNoticeData, DeliveryError, Mailer};
use quartier_store::{Store, StoreError, outbox};
use rand::Rng;
use tokio::sync::{Notify, watch};

/// How the worker paces itself.
#[derive(Debug, Clone, Copy)]
pub struct WorkerConfig {
    /// Poll interval when nothing wakes it.
    pub poll: Duration,
    /// How long a claim lasts.
    pub lease: Duration,
    /// Messages per claim.
    pub batch: i64,
}

/// Runs until `stop` turns true.
pub async fn run(store: Store, mailer: Mailer, cfg: WorkerConfig, wakeup: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        let sent = match tick(&store, &mailer, cfg).await {
            Ok(n) => n,
            Err(e) => {
                tracing::error!(error = format!("{:#}", anyhow::Error::from(e)), "outbox: claiming failed");
                0
            }
        };
        if sent > 0 {
            continue;
        }
        tokio::select! {
            _ = wakeup.notified() => {}
            _ = tokio::time::sleep(cfg.poll) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Claims and handles one batch; returns how many were claimed.
pub async fn tick(store: &Store, mailer: &Mailer, cfg: WorkerConfig) -> Result<usize, StoreError> {
    let now = jiff::Timestamp::now().as_millisecond();
    let lease_until = now + i64::try_from(cfg.lease.as_millis()).unwrap_or(60_000);
    let rows = {
        let mut tx = store.begin().await?;
        let rows = outbox::claim(&mut tx, store.backend(), now, lease_until, cfg.batch).await?;
        tx.commit().await?;
        rows
    };
    let n = rows.len();
    for row in rows {
        let outcome = tokio::time::timeout(cfg.lease / 2, deliver(mailer, &row))
            .await
            .unwrap_or_else(|_| Err(DeliveryError::Transient("timed out".into())));
        let mut conn = store.pool().acquire().await?;
        match outcome {
            Ok(()) => {
                outbox::mark_sent(&mut conn, &row.id, jiff::Timestamp::now().as_millisecond()).await?;
                tracing::info!(outbox.id = %row.id, template = %row.template, "mail sent");
            }
            Err(DeliveryError::Permanent(e)) => {
                outbox::mark_dead(&mut conn, &row.id, &e).await?;
                tracing::warn!(outbox.id = %row.id, error = %e, "mail dead-lettered");
            }
            Err(DeliveryError::Transient(e)) => {
                let next = jiff::Timestamp::now().as_millisecond() + backoff_ms(row.attempts);
                outbox::mark_retry(&mut conn, &row.id, next, &e).await?;
                tracing::warn!(outbox.id = %row.id, attempts = row.attempts, error = %e, "mail delayed; will retry");
            }
        }
    }
    Ok(n)
}

async fn deliver(mailer: &Mailer, row: &outbox::OutboxRow) -> Result<(), DeliveryError> {
    let notice: Notice = row.template.parse().map_err(|_| DeliveryError::Permanent(format!("unknown template {}", row.template)))?;
    let locale: Locale = row.locale.parse().unwrap_or_default();
    let data: BookingNoticeData =
        serde_json::from_str(&row.payload).map_err(|e| DeliveryError::Permanent(format!("unreadable payload: {e}")))?;
    let msg = quartier_notifications::render(notice, locale, &data);
    mailer.send(&row.recipient_name, &row.recipient_email, &row.id, &msg).await
}

/// 2 s, 4 s, 8 s ... capped at 15 minutes, with up to 25% jitter so retries of many messages spread out.
fn backoff_ms(attempts: i64) -> i64 {
    let exp = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    let base = 2_000i64.saturating_mul(2i64.saturating_pow(exp)).min(15 * 60 * 1000);
    base + rand::rng().random_range(0..=base / 4)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!((2_000..=2_500).contains(&backoff_ms(1)));
        assert!((4_000..=5_000).contains(&backoff_ms(2)));
        let cap = 15 * 60 * 1000;
        assert!((cap..=cap + cap / 4).contains(&backoff_ms(30)));
    }
}

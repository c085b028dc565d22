//! What every handler can reach: the store, the token and password services, the limits.

use std::sync::Arc;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use quartier_store::Store;
use tokio::sync::Notify;

use crate::error::ApiError;
use crate::limit::RateLimiter;
use crate::matcher::Matcher;
use crate::security::{PasswordCost, Passwords, Tokens};

/// Settings the API needs, already parsed by the server's configuration.
#[derive(Clone)]
pub struct ApiConfig {
    /// Key for signing access tokens (at least 32 bytes).
    pub signing_key: Vec<u8>,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of refresh tokens.
    pub refresh_ttl: Duration,
    /// Argon2id costs.
    pub password_cost: PasswordCost,
    /// Failed logins per account within the window before 429.
    pub login_failures_per_account: u32,
    /// Login attempts per client address within the window before 429.
    pub login_attempts_per_address: u32,
    /// The login limits' window.
    pub login_window: Duration,
    /// Base URL people reach the web app at, for links in e-mails.
    pub public_url: String,
    /// Zone for people and visits that have none of their own.
    pub default_time_zone: String,
    /// Travel time blocked before and after each visit, in minutes.
    pub travel_buffer_minutes: u32,
    /// How soon before the start a visit can still be booked, in minutes.
    pub min_notice_minutes: u32,
    /// How long a chosen helper has to answer a request before it expires, in minutes.
    pub request_ttl_minutes: u32,
    /// How long a helper has to answer an offer of an "any helper nearby" request, in minutes.
    pub offer_ttl_minutes: u32,
    /// Requests a customer may have waiting for an answer at once (then 429 `too_many_open_requests`).
    pub max_open_requests: u32,
    /// How many helpers get each round of offers.
    pub broadcast_fanout: u32,
    /// How many rounds before a request expires.
    pub broadcast_rounds: u32,
    /// Travel fees, surcharges, VAT and the platform fee.
    pub pricing: quartier_pricing::PricingConfig,
    /// Longest wait for a response's head; past it the answer is 503 `request_timeout`.
    pub request_timeout: Duration,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("signing_key", &"[redacted]")
            .field("access_ttl", &self.access_ttl)
            .field("public_url", &self.public_url)
            .finish_non_exhaustive()
    }
}

struct Inner {
    store: Store,
    config: ApiConfig,
    tokens: Tokens,
    passwords: Passwords,
    login_per_account: RateLimiter,
    login_per_address: RateLimiter,
    outbox_wakeup: Arc<Notify>,
    metrics: Option<PrometheusHandle>,
    matcher: Arc<Matcher>,
    feed: tokio::sync::watch::Sender<u64>,
    closing: tokio::sync::watch::Sender<bool>,
}

/// Shared application state (cheap to clone).
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Builds the state. `outbox_wakeup` is notified after every commit that queued messages.
    pub fn new(
        store: Store,
        config: ApiConfig,
        outbox_wakeup: Arc<Notify>,
        metrics: Option<PrometheusHandle>,
        matcher: Arc<Matcher>,
    ) -> Result<Self, ApiError> {
        let tokens = Tokens::new(&config.signing_key, config.access_ttl);
        let passwords = Passwords::new(config.password_cost)?;
        Ok(Self(Arc::new(Inner {
            login_per_account: RateLimiter::new(config.login_failures_per_account, config.login_window),
            login_per_address: RateLimiter::new(config.login_attempts_per_address, config.login_window),
            store,
            tokens,
            passwords,
            config,
            outbox_wakeup,
            metrics,
            matcher,
            feed: tokio::sync::watch::channel(0).0,
            closing: tokio::sync::watch::channel(false).0,
        })))
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }

    /// Access tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.0.tokens
    }

    /// Password hashing.
    pub fn passwords(&self) -> &Passwords {
        &self.0.passwords
    }

    /// Failed-login counter per account.
    pub fn login_per_account(&self) -> &RateLimiter {
        &self.0.login_per_account
    }

    /// Login-attempt counter per client address.
    pub fn login_per_address(&self) -> &RateLimiter {
        &self.0.login_per_address
    }

    /// Wakes the outbox worker and the live streams after a commit that queued notices.
    pub fn wake_outbox(&self) {
        self.0.outbox_wakeup.notify_one();
        self.0.feed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Ends every live stream (at shutdown, so the server can stop).
    pub fn close_streams(&self) {
        self.0.closing.send_replace(true);
    }

    /// Whether the server is shutting down.
    pub fn closing(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.closing.subscribe()
    }

    /// A receiver that changes whenever notices were committed in this process.
    pub fn feed_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.feed.subscribe()
    }

    /// The in-memory match index.
    pub fn matcher(&self) -> &Matcher {
        &self.0.matcher
    }

    /// The zone for people and helpers without one of their own.
    pub fn matcher_zone(&self) -> &jiff::tz::TimeZone {
        self.0.matcher.zone()
    }

    /// Reloads a helper into the match index after a commit that changed them. A failure is
    /// logged, not returned: the change is committed, and the change feed retries within a second.
    pub async fn refresh_helper(&self, helper_id: &str) {
        if let Err(e) = self.0.matcher.refresh(&self.0.store, helper_id).await {
            tracing::warn!(helper.id = helper_id, error = format!("{:#}", anyhow::Error::from(e)), "match index refresh failed");
        }
    }

    /// The Prometheus handle, if metrics are on.
    pub fn metrics(&self) -> Option<&PrometheusHandle> {
        self.0.metrics.as_ref()
    }
}

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

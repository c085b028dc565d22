//! One typed configuration: defaults, then an optional `quartier.toml`, then `QUARTIER_*`
//! environment variables (and the conventional `DATABASE_URL`). Secrets are wrapped so they never
//! print.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// A value that must not appear in logs or error messages.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every setting, with its default. The README's configuration table lists them.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub host: String,
    /// Port to listen on (0 picks a free one).
    pub port: u16,
    /// URL people reach Quartier at (links in e-mails). Default `http://localhost:<port>`.
    pub public_url: Option<String>,
    /// Directory for the SQLite file, the signing key and `.eml` files.
    pub data_dir: PathBuf,
    /// `sqlite:...` or `postgres://...`; default a SQLite file in `data_dir`.
    pub database_url: Option<Secret>,
    /// SMTP server URL; without it, mail is written to `data_dir/mail/` as `.eml` files.
    pub smtp_url: Option<Secret>,
    /// Sender of all mail.
    pub mail_from: String,
    /// Key for signing access tokens (at least 32 characters); default a random key kept in
    /// `data_dir/signing.key`.
    pub signing_key: Option<Secret>,
    /// Lifetime of access tokens in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens in days.
    pub refresh_token_ttl_days: u64,
    /// Argon2id memory in KiB.
    pub password_memory_kib: u32,
    /// Argon2id iterations.
    pub password_iterations: u32,
    /// Failed logins per account in the window before 429.
    pub login_failures_per_account: u32,
    /// Login attempts per client address in the window before 429.
    pub login_attempts_per_address: u32,
    /// The login limits' window in seconds.
    pub login_window_secs: u64,
    /// Zone for people and visits that have none of their own.
    pub default_time_zone: String,
    /// Travel time blocked before and after each visit, minutes.
    pub travel_buffer_minutes: u32,
    /// How soon before the start a visit can still be booked, minutes.
    pub min_notice_minutes: u32,
    /// `text` or `json`.
    pub log_format: LogFormat,
    /// `RUST_LOG`-style filter.
    pub log_level: String,
    /// How often the outbox worker looks for due messages when not woken, milliseconds.
    pub outbox_poll_ms: u64,
    /// How long a claimed message stays claimed without renewal, seconds (renewed every third
    /// of it while the worker sends; one message may take at most half of it).
    pub outbox_lease_secs: u64,
    /// Messages the outbox worker claims at once.
    pub outbox_batch_size: u32,
    /// Messages of a batch sent at the same time (one SMTP connection each).
    pub outbox_concurrency: u32,
    /// Wait before the first retry of a message that failed transiently, milliseconds; doubles
    /// with every further failure.
    pub outbox_backoff_base_ms: u64,
    /// Longest wait between retries, milliseconds.
    pub outbox_backoff_cap_ms: u64,
    /// A message still failing transiently this many hours after it was queued is dead-lettered.
    pub outbox_give_up_hours: u64,
    /// How long a chosen helper has to answer a request before it expires, minutes.
    pub request_ttl_minutes: u32,
    /// How long a helper has to answer an offer of an "any helper nearby" request, minutes.
    pub offer_ttl_minutes: u32,
    /// Requests a customer may have waiting for an answer at once.
    pub max_open_requests: u32,
    /// How many helpers get each round of offers.
    pub broadcast_fanout: u32,
    /// How many rounds of offers before a request expires.
    pub broadcast_rounds: u32,
    /// The platform's fee in basis points of the subtotal (0: the platform is not financially
    /// involved).
    pub platform_fee_bps: u32,
    /// How often the timer worker looks for due timers, milliseconds.
    pub timer_poll_ms: u64,
    /// How often the match index reads the change feed (other replicas' writes), milliseconds.
    pub index_poll_ms: u64,
    /// Longest wait for a response, milliseconds; past it the answer is 503 `request_timeout`
    /// (0: no limit). Keep it above `db_acquire_timeout_ms`.
    pub request_timeout_ms: u64,
    /// How long a request waits for a database connection before it is answered 503
    /// `database_unavailable`, milliseconds.
    pub db_acquire_timeout_ms: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            public_url: None,
            data_dir: PathBuf::from("data"),
            database_url: None,
            smtp_url: None,
            mail_from: "Quartier <noreply@quartier.localhost>".into(),
            signing_key: None,
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            password_memory_kib: 19 * 1024,
            password_iterations: 2,
            login_failures_per_account: 5,
            login_attempts_per_address: 30,
            login_window_secs: 15 * 60,
            default_time_zone: "Europe/Zurich".into(),
            travel_buffer_minutes: 15,
            min_notice_minutes: 60,
            log_format: LogFormat::Text,
            log_level: "info,sqlx=warn,tower_http=info".into(),
            outbox_poll_ms: 1000,
            outbox_lease_secs: 60,
            outbox_batch_size: 20,
            outbox_concurrency: 8,
            outbox_backoff_base_ms: 2_000,
            outbox_backoff_cap_ms: 15 * 60 * 1000,
            outbox_give_up_hours: 96,
            index_poll_ms: 500,
            request_ttl_minutes: 120,
            offer_ttl_minutes: 15,
            max_open_requests: 5,
            broadcast_fanout: 3,
            broadcast_rounds: 3,
            platform_fee_bps: 0,
            timer_poll_ms: 1000,
            request_timeout_ms: 5_000,
            db_acquire_timeout_ms: 3_000,
        }
    }
}

/// Why the configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A file or variable had a value of the wrong kind or an unknown key.
    #[error("configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Defaults, then `file` (default `quartier.toml`, ignored when missing), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, SettingsError> {
        let file = file.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("quartier.toml"));
        let mut fig = Figment::from(Serialized::defaults(Settings::default())).merge(Toml::file(file));
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            fig = fig.merge(Serialized::default("database_url", url));
        }
        fig = fig.merge(Env::prefixed("QUARTIER_").ignore(&[
            "test_pg_url",
            "test_smtp_host",
            "test_smtp_port",
            "test_maildir",
            "test_smtp_control",
        ]));
        // Only the last error matters to a person; figment's own text names the key and source.
        fig.extract().map_err(|e| SettingsError::Invalid(e.to_string()))
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(u) => u.expose().to_owned(),
            None => format!("sqlite://{}", self.data_dir.join("quartier.db").display()),
        }
    }

    /// The public URL in force.
    pub fn public_url(&self) -> String {
        self.public_url.clone().unwrap_or_else(|| format!("http://localhost:{}", self.port))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Settings { signing_key: Some(Secret::new("super-secret-value")), ..Settings::default() };
        assert!(!format!("{s:?}").contains("super-secret-value"));
    }

    #[test]
    fn the_default_database_is_a_sqlite_file_in_the_data_dir() {
        let s = Settings::default();
        assert_eq!(s.database_url(), "sqlite://data/quartier.db");
        assert_eq!(s.public_url(), "http://localhost:8080");
    }
}

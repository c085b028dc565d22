//! Building and running the application: `Application::build(settings)` binds the listener (port 0
//! in tests), migrates the database and starts the workers; `run_until_stopped` serves until a
//! shutdown signal, then stops the workers.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use quartier_api::matcher::Matcher;
use quartier_api::{ApiConfig, AppState, PasswordCost};
use quartier_notifications::{Mailer, MailerConfig};
use quartier_store::Store;
use rand::RngCore;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use crate::settings::Settings;
use crate::worker::{self, WorkerConfig};

/// A built application, listening but not yet serving.
pub struct Application {
    listener: TcpListener,
    port: u16,
    router: axum::Router,
    store: Store,
    workers: Vec<tokio::task::JoinHandle<()>>,
    stop: watch::Sender<bool>,
    state: AppState,
}

/// Opens the database named by the settings and brings its schema up to date.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.database_url();
    let pool = quartier_store::PoolSettings { acquire_timeout: Duration::from_millis(settings.db_acquire_timeout_ms.max(1)) };
    let store = Store::connect_with(&url, pool).await.with_context(|| {
        format!(
            "cannot open the {} database; check DATABASE_URL / QUARTIER_DATABASE_URL",
            quartier_store::Backend::of_url(&url).map(|b| b.as_str()).unwrap_or("configured")
        )
    })?;
    store.migrate().await.context("cannot apply the database migrations")?;
    let mut tx = store.begin().await?;
    quartier_store::catalog::ensure(&mut tx, &quartier_pricing::default_catalogue()).await?;
    quartier_store::ledger::ensure_policy(&mut tx, &quartier_pricing::default_policy(), jiff::Timestamp::now().as_millisecond()).await?;
    tx.commit().await.map_err(quartier_store::StoreError::from)?;
    Ok(store)
}

/// The API's settings, derived from the whole configuration.
pub fn api_config(settings: &Settings) -> anyhow::Result<ApiConfig> {
    Ok(ApiConfig {
        signing_key: signing_key(settings)?,
        access_ttl: Duration::from_secs(settings.access_token_ttl_secs),
        refresh_ttl: Duration::from_secs(settings.refresh_token_ttl_days * 86_400),
        password_cost: PasswordCost { memory_kib: settings.password_memory_kib, iterations: settings.password_iterations },
        login_failures_per_account: settings.login_failures_per_account,
        login_attempts_per_address: settings.login_attempts_per_address,
        login_window: Duration::from_secs(settings.login_window_secs),
        public_url: settings.public_url(),
        default_time_zone: settings.default_time_zone.clone(),
        travel_buffer_minutes: settings.travel_buffer_minutes,
        min_notice_minutes: settings.min_notice_minutes,
        request_ttl_minutes: settings.request_ttl_minutes,
        offer_ttl_minutes: settings.offer_ttl_minutes,
        max_open_requests: settings.max_open_requests,
        broadcast_fanout: settings.broadcast_fanout,
        broadcast_rounds: settings.broadcast_rounds,
        pricing: quartier_pricing::PricingConfig { platform_fee_bps: settings.platform_fee_bps, ..Default::default() },
        request_timeout: Duration::from_millis(settings.request_timeout_ms),
    })
}

/// The configured key, or the one kept in `data_dir/signing.key` (created on first start).
fn signing_key(settings: &Settings) -> anyhow::Result<Vec<u8>> {
    if let Some(k) = &settings.signing_key {
        anyhow::ensure!(k.expose().len() >= 32, "QUARTIER_SIGNING_KEY must have at least 32 characters");
        return Ok(k.expose().as_bytes().to_vec());
    }
    let path = settings.data_dir.join("signing.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return STANDARD.decode(text.trim()).with_context(|| format!("{} is not base64; delete it to get a new key", path.display()));
    }
    std::fs::create_dir_all(&settings.data_dir).with_context(|| format!("cannot create {}", settings.data_dir.display()))?;
    let mut key = vec![0u8; 64];
    rand::rng().fill_bytes(&mut key);
    write_private(&path, &STANDARD.encode(&key)).with_context(|| format!("cannot write {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated a new signing key");
    Ok(key)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(text.as_bytes())
}

/// The process-wide Prometheus recorder (installed once, shared by every app in the process).
fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new().install_recorder().ok()?;
            let upkeep = handle.clone();
            std::thread::spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
            Some(handle)
        })
        .clone()
}

/// The mail transport the settings ask for.
pub fn mailer(settings: &Settings) -> anyhow::Result<Mailer> {
    let config = match &settings.smtp_url {
        Some(url) => MailerConfig::Smtp(url.expose().to_owned()),
        None => MailerConfig::Files(settings.data_dir.join("mail")),
    };
    let public = settings.public_url();
    let domain = public.split("://").nth(1).unwrap_or("quartier.localhost").split([':', '/']).next().unwrap_or("quartier.localhost");
    Ok(Mailer::new(&config, &settings.mail_from, domain)?)
}

impl Application {
    /// Opens the database, binds the port and starts the outbox worker.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = open_store(&settings).await?;
        if store.backend() == quartier_store::Backend::Sqlite {
            // This is the one process serving the file: unfinished idempotency claims are those of
            // a process that died (kill -9, power loss); free their keys for retries now.
            let mut conn = store.pool().acquire().await?;
            let freed = quartier_store::idempotency::release_orphaned(&mut conn, jiff::Timestamp::now().as_millisecond()).await?;
            if freed > 0 {
                tracing::warn!(freed, "freed idempotency keys claimed by a process that died");
            }
        }
        let config = api_config(&settings)?;
        let wakeup = Arc::new(Notify::new());
        let zone = jiff::tz::TimeZone::get(&settings.default_time_zone)
            .with_context(|| format!("`{}` is not an IANA time zone; fix QUARTIER_DEFAULT_TIME_ZONE", settings.default_time_zone))?;
        let matcher = Arc::new(Matcher::new(zone, (settings.travel_buffer_minutes, settings.travel_buffer_minutes)));
        let started = std::time::Instant::now();
        let helpers = matcher.rebuild(&store).await.context("cannot build the match index")?;
        tracing::info!(helpers, ms = started.elapsed().as_millis() as u64, "match index built");
        let state = AppState::new(store.clone(), config, wakeup.clone(), metrics_handle(), matcher.clone())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        let router = quartier_api::router(state.clone());
        let listener = TcpListener::bind((settings.host.as_str(), settings.port)).await.with_context(|| {
            format!("cannot listen on {}:{}; is another process using the port? Set QUARTIER_PORT", settings.host, settings.port)
        })?;
        let port = listener.local_addr()?.port();
        let (stop, stop_rx) = watch::channel(false);
        let cfg = WorkerConfig::from_settings(&settings);
        let follow = {
            let (matcher, store, stop) = (matcher.clone(), store.clone(), stop_rx.clone());
            let every = Duration::from_millis(settings.index_poll_ms);
            async move { matcher.follow(store, every, stop).await }
        };
        let workers = vec![
            tokio::spawn(worker::run(store.clone(), mailer(&settings)?, cfg, wakeup, stop_rx.clone())),
            tokio::spawn(follow),
            tokio::spawn(quartier_api::process::run_timers(state.clone(), Duration::from_millis(settings.timer_poll_ms), stop_rx)),
        ];
        tracing::info!(port, backend = store.backend().as_str(), "quartier is listening");
        Ok(Self { listener, port, router, store, workers, stop, state })
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Serves until `shutdown` resolves, then stops the workers and closes the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let app = self.router.into_make_service_with_connect_info::<SocketAddr>();
        let state = self.state.clone();
        let shutdown = async move {
            shutdown.await;
            // Live streams never end by themselves: close them so the server can stop.
            state.close_streams();
        };
        axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await?;
        let _ = self.stop.send(true);
        for w in self.workers {
            let _ = w.await;
        }
        self.store.close().await;
        Ok(())
    }

    /// Serves until Ctrl-C or SIGTERM.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(shutdown_signal()).await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    tracing::info!("shutting down");
}

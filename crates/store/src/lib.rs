//! All SQL Quartier runs, for SQLite and PostgreSQL, through one code path (sqlx `Any`, `$N`
//! placeholders, portable column types: ids TEXT, instants BIGINT epoch-ms, money BIGINT Rappen,
//! flags INTEGER). Backend-specific SQL appears only where a guarantee needs it (the overlap guard,
//! `FOR UPDATE SKIP LOCKED`).
//!
//! Invariant: functions that change data take the caller's transaction, so an application service
//! commits a state change, its timeline event and its outbox rows together or not at all. On
//! SQLite every write transaction starts with `BEGIN IMMEDIATE`, so writers queue on the database
//! lock instead of failing half-way on a lock upgrade.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::{Any, AnyPool, ConnectOptions, Transaction};

pub mod account;
pub mod availability;
pub mod bookings;
pub mod catalog;
pub mod conversation;
pub mod disputes;
pub mod feed;
pub mod helpers;
pub mod idempotency;
pub mod insights;
pub mod ledger;
pub mod matching;
pub mod outbox;
pub mod reputation;
pub mod requests;
pub mod timers;
pub mod users;
pub mod vetting;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../../migrations/postgres");

/// An open transaction on either backend.
pub type Tx = Transaction<'static, Any>;

/// A connection on either backend (a pooled one or the inside of a [`Tx`]).
pub type Conn = sqlx::AnyConnection;

/// Which database engine is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// The embedded default.
    Sqlite,
    /// The engine for scale and for several replicas.
    Postgres,
}

impl Backend {
    /// The backend a database URL selects, by its scheme.
    pub fn of_url(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl)
        }
    }

    /// A short name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// What went wrong in storage, sorted by what the caller can do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule said no (e.g. an e-mail already registered). Carries the constraint's
    /// column or name when the backend reports it.
    #[error("already exists: {0}")]
    Duplicate(String),
    /// The helper already holds a booking overlapping the requested time.
    #[error("the helper already has a booking at that time")]
    SlotTaken,
    /// A row that another row points to does not exist.
    #[error("a referenced record does not exist: {0}")]
    MissingReference(String),
    /// The database URL names an engine Quartier does not speak.
    #[error("DATABASE_URL must start with sqlite: or postgres://")]
    UnsupportedUrl,
    /// A stored value that the code cannot read (a corrupt or foreign row).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Anything else from the database: a fault, not the caller's mistake.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// Applying migrations failed.
    #[error("migration failed")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// The SQLite file's directory could not be created.
    #[error("cannot create the database directory {0}")]
    Directory(String, #[source] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            // PostgreSQL 23P01 exclusion_violation; SQLite: our trigger's RAISE message.
            // PostgreSQL 40P01 deadlock_detected: the only lock waits in Quartier's write
            // transactions are the overlap guard's (an insert waits for an uncommitted overlapping
            // booking), so a cycle means overlapping bookings raced each other and this one lost.
            if code == "23P01" || code == "40P01" || db.message().starts_with("slot_taken") {
                return StoreError::SlotTaken;
            }
            match db.kind() {
                sqlx::error::ErrorKind::UniqueViolation => {
                    let what = db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned());
                    return StoreError::Duplicate(what);
                }
                sqlx::error::ErrorKind::ForeignKeyViolation => {
                    let what = db.constraint().map(str::to_owned).unwrap_or_else(|| db.message().to_owned());
                    return StoreError::MissingReference(what);
                }
                _ => {}
            }
        }
        StoreError::Database(e)
    }
}

impl StoreError {
    /// Whether the database could not be reached at all (down, restarting, or no connection free
    /// within the pool's acquire timeout): a passing condition the caller may retry, not a fault
    /// of the request.
    pub fn is_unavailable(&self) -> bool {
        let StoreError::Database(e) = self else { return false };
        match e {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => {
                true
            }
            // PostgreSQL: class 08 connection exceptions; 57P01-57P03 the server shuts down, crashed
            // or is starting up; 53300 too many connections.
            sqlx::Error::Database(db) => {
                let code = db.code().unwrap_or_default();
                code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
            }
            _ => false,
        }
    }
}

/// How the pool behaves.
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// How long a request waits for a connection before [`StoreError::is_unavailable`] says so.
    /// Short, so that requests fail fast with 503 while the database is down.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self { acquire_timeout: Duration::from_secs(3) }
    }
}

/// The connection pool and which backend it speaks to.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects to the database at `url`, creating a SQLite file (and its directory) if needed.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, PoolSettings::default()).await
    }

    /// [`Store::connect`] with explicit pool settings.
    pub async fn connect_with(url: &str, pool_settings: PoolSettings) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url)?;
        let url = match backend {
            Backend::Sqlite => {
                let path = url.trim_start_matches("sqlite://").trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or(path);
                if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| StoreError::Directory(dir.display().to_string(), e))?;
                }
                if url.contains('?') { url.to_owned() } else { format!("{url}?mode=rwc") }
            }
            Backend::Postgres => url.to_owned(),
        };
        let options = AnyConnectOptions::from_str(&url)?.log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(pool_settings.acquire_timeout)
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the one writer; NORMAL is durable in WAL mode
                        // across application crashes. busy_timeout makes writers wait for the lock.
                        sqlx::query("PRAGMA journal_mode = WAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA synchronous = NORMAL").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA busy_timeout = 10000").execute(&mut *conn).await?;
                        sqlx::query("PRAGMA foreign_keys = ON").execute(&mut *conn).await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self { pool, backend })
    }

    /// Applies every migration not yet applied, for this backend.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        let migrator = match self.backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&self.pool).await.map_err(StoreError::Migrate)
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for reads outside a transaction.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a transaction that will write. On SQLite it takes the write lock at once.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every connection (at shutdown, and so tests can drop their database).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

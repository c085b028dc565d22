//! The throwaway PostgreSQL cluster of `scripts/test-services.sh`: a fresh database per run, and
//! `pg_ctl restart -m immediate` on the cluster's data dir.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, bail};
use sqlx::Connection as _;

/// Where the cluster lives (exported by `scripts/test-services.sh` when it started the cluster).
#[derive(Clone, Debug)]
pub struct Cluster {
    /// Data directory.
    pub data: PathBuf,
    /// Directory of `pg_ctl`.
    pub bin: PathBuf,
    /// Run `pg_ctl` as this user (when we are root).
    pub user: Option<String>,
    /// Server log for the restarted server.
    pub log: PathBuf,
}

impl Cluster {
    /// From `TEST_PG_DATA_DIR`, `TEST_PG_BIN_DIR`, `TEST_PG_USER` and `TEST_PG_LOG`.
    pub fn from_env() -> anyhow::Result<Self> {
        let data = std::env::var("TEST_PG_DATA_DIR").context(
            "TEST_PG_DATA_DIR is not set: R4 restarts the throwaway cluster of scripts/test-services.sh; run it as \
             `scripts/test-services.sh target/debug/quartier-chaos r4`",
        )?;
        let bin = std::env::var("TEST_PG_BIN_DIR").context("TEST_PG_BIN_DIR is not set (see scripts/test-services.sh)")?;
        let data = PathBuf::from(data);
        let log = std::env::var("TEST_PG_LOG").map(PathBuf::from).unwrap_or_else(|_| data.with_file_name("server.log"));
        Ok(Self { data, bin: PathBuf::from(bin), user: std::env::var("TEST_PG_USER").ok().filter(|u| !u.is_empty()), log })
    }

    /// `pg_ctl restart -m immediate -w`: a crash of the server (no shutdown checkpoint), then
    /// crash recovery. Returns when pg_ctl does.
    pub async fn restart_immediate(&self) -> anyhow::Result<()> {
        let pg_ctl = self.bin.join("pg_ctl");
        let args: Vec<String> = vec![
            pg_ctl.display().to_string(),
            "-D".into(),
            self.data.display().to_string(),
            "-l".into(),
            self.log.display().to_string(),
            "-m".into(),
            "immediate".into(),
            "-w".into(),
            "-t".into(),
            "60".into(),
            "restart".into(),
        ];
        let mut cmd = match &self.user {
            Some(user) if is_root() => {
                let mut c = tokio::process::Command::new("runuser");
                c.arg("-u").arg(user).arg("--").args(&args);
                c
            }
            _ => {
                let mut c = tokio::process::Command::new(&args[0]);
                c.args(&args[1..]);
                c
            }
        };
        let out = cmd.stdin(std::process::Stdio::null()).output().await?;
        if !out.status.success() {
            bail!("pg_ctl restart failed: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt as _;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Creates a fresh database on the server of `admin_url`; returns its URL.
pub async fn create_database(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut conn = sqlx::PgConnection::connect(admin_url).await.context("connecting to QUARTIER_TEST_PG_URL")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}"))).execute(&mut conn).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&mut conn).await?;
    // The throwaway cluster runs with synchronous_commit=off for speed: a commit is then
    // acknowledged before its WAL is written, and a crash (`-m immediate`) loses it. Production
    // keeps the default (on), and so does the database under test.
    sqlx::query(sqlx::AssertSqlSafe(format!("ALTER DATABASE {name} SET synchronous_commit = on"))).execute(&mut conn).await?;
    conn.close().await?;
    let (head, _) = admin_url.rsplit_once('/').context("QUARTIER_TEST_PG_URL has no database part")?;
    let query = admin_url.split_once('?').map(|(_, q)| format!("?{q}")).unwrap_or_default();
    Ok(format!("{head}/{name}{query}"))
}

/// Drops a database made by [`create_database`] (best effort).
pub async fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut conn) = sqlx::PgConnection::connect(admin_url).await {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))).execute(&mut conn).await;
        let _ = conn.close().await;
    }
}

/// Whether a new connection to `url` can run a query now.
pub async fn accepts(url: &str) -> bool {
    let attempt = async {
        let mut c = sqlx::PgConnection::connect(url).await?;
        sqlx::query("SELECT 1").execute(&mut c).await?;
        c.close().await
    };
    matches!(tokio::time::timeout(Duration::from_millis(500), attempt).await, Ok(Ok(())))
}

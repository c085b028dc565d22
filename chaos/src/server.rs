//! The server under test: `quartier serve` as a child process this harness owns, so it can be
//! killed with SIGKILL and started again on the same database and port.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::process::{Child, Command};

/// Signing key shared by every start, so access tokens outlive a restart.
const SIGNING_KEY: &str = "chaos-harness-signing-key-0123456789-abcdefghijklmnopqrstuvwxyz";

/// Settings that newer servers know and older ones may not; each is passed only when the binary
/// accepts it (see [`Server::probe_optional`]).
const OPTIONAL: &[(&str, &str)] = &[
    // Open requests per customer: the load books thousands of visits for a few dozen customers.
    ("QUARTIER_MAX_OPEN_REQUESTS", "1000000"),
];

/// How to start the server.
#[derive(Clone)]
pub struct ServerSpec {
    /// `target/debug/quartier` or the release one.
    pub bin: PathBuf,
    /// Working directory: data dir, logs.
    pub dir: PathBuf,
    /// `None`: a SQLite file in the data dir.
    pub database_url: Option<String>,
    /// Port to listen on (the same after every restart).
    pub port: u16,
}

/// A running (or killed) server.
pub struct Server {
    spec: ServerSpec,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Process id of the current child.
    pub pid: Option<u32>,
    client: reqwest::Client,
}

impl Server {
    /// Prepares the environment (probing which optional settings the binary accepts).
    pub async fn new(spec: ServerSpec) -> anyhow::Result<Self> {
        std::fs::create_dir_all(spec.dir.join("data")).with_context(|| format!("creating {}", spec.dir.display()))?;
        let mut env: Vec<(String, String)> = vec![
            ("QUARTIER_HOST".into(), "127.0.0.1".into()),
            ("QUARTIER_PORT".into(), spec.port.to_string()),
            ("QUARTIER_DATA_DIR".into(), spec.dir.join("data").display().to_string()),
            ("QUARTIER_SIGNING_KEY".into(), SIGNING_KEY.into()),
            ("QUARTIER_ACCESS_TOKEN_TTL_SECS".into(), "86400".into()),
            ("QUARTIER_PASSWORD_MEMORY_KIB".into(), "1024".into()),
            ("QUARTIER_PASSWORD_ITERATIONS".into(), "1".into()),
            ("QUARTIER_LOGIN_ATTEMPTS_PER_ADDRESS".into(), "1000000".into()),
            ("QUARTIER_LOG_LEVEL".into(), "warn,quartier=info".into()),
        ];
        if let Some(url) = &spec.database_url {
            env.push(("DATABASE_URL".into(), url.clone()));
        }
        let mut server = Self { spec, env, child: None, pid: None, client: reqwest::Client::new() };
        for (k, v) in OPTIONAL {
            if server.probe_optional(k, v).await? {
                server.env.push(((*k).to_owned(), (*v).to_owned()));
            }
        }
        Ok(server)
    }

    /// Whether `quartier migrate` starts with `key=value` set (an unknown setting is refused).
    async fn probe_optional(&self, key: &str, value: &str) -> anyhow::Result<bool> {
        let out = self.command().arg("migrate").env(key, value).stdout(Stdio::null()).stderr(Stdio::piped()).output().await?;
        if out.status.success() {
            return Ok(true);
        }
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("unknown field") {
            return Ok(false);
        }
        bail!("`quartier migrate` failed: {}", err.trim())
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.spec.bin);
        // Only what we set: no QUARTIER_* or DATABASE_URL of the caller's environment.
        for (k, _) in std::env::vars() {
            if k.starts_with("QUARTIER_") || k == "DATABASE_URL" || k == "RUST_LOG" {
                cmd.env_remove(k);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str()))).current_dir(&self.spec.dir).stdin(Stdio::null());
        cmd
    }

    /// Runs a `quartier` subcommand (not `serve`) to completion, with `stdin` fed in.
    pub async fn run_cli(&self, args: &[&str], stdin: &str) -> anyhow::Result<String> {
        use tokio::io::AsyncWriteExt as _;
        let mut child = self.command().args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()?;
        if let Some(mut input) = child.stdin.take() {
            input.write_all(stdin.as_bytes()).await?;
        }
        let out = child.wait_with_output().await?;
        if !out.status.success() {
            bail!("quartier {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Base URL.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.spec.port)
    }

    /// The server log file (every start appends to it).
    pub fn log_path(&self) -> PathBuf {
        self.spec.dir.join("server.log")
    }

    /// Starts the server and waits until `/healthz` answers; returns how long that took.
    pub async fn start(&mut self) -> anyhow::Result<Duration> {
        let t = Instant::now();
        let log = OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let child = self.command().arg("serve").stdout(log.try_clone()?).stderr(log).kill_on_drop(true).spawn()?;
        self.pid = child.id();
        self.child = Some(child);
        self.wait_healthy(t).await?;
        Ok(t.elapsed())
    }

    async fn wait_healthy(&mut self, t: Instant) -> anyhow::Result<()> {
        let url = format!("{}/healthz", self.base());
        loop {
            if let Ok(res) = self.client.get(&url).timeout(Duration::from_millis(500)).send().await
                && res.status().is_success()
            {
                return Ok(());
            }
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("the server exited at start ({status}); see {}", tail(&self.log_path()));
            }
            if t.elapsed() > Duration::from_secs(90) {
                bail!("the server did not answer /healthz within 90 s; see {}", tail(&self.log_path()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// SIGKILL, then waits for the process to be gone.
    pub async fn kill(&mut self) -> anyhow::Result<()> {
        if let Some(mut child) = self.child.take() {
            child.start_kill().ok();
            child.wait().await?;
        }
        self.pid = None;
        Ok(())
    }

    /// Whether the child is still running (it did not exit by itself).
    pub fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}

/// The last lines of a log file, for error messages.
pub fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let from = lines.len().saturating_sub(15);
    format!("{} (last lines:\n{})", path.display(), lines.get(from..).unwrap_or_default().join("\n"))
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

//! Local SMTP servers for the notifications benchmark.
//!
//! - [`RustSink`]: a minimal async SMTP sink on tokio that accepts every message, discards it and
//!   counts it per `Message-ID` (so duplicates are visible); it can go `down` (listener closed,
//!   sessions dropped, connections refused) and come back on the same port. By default it ACKs
//!   like any Linux server (delayed ACKs); with `quick_acks` it acknowledges every segment at once
//!   (`TCP_QUICKACK`), which removes the 40 ms Nagle/delayed-ACK stall a client without
//!   `TCP_NODELAY` (lettre 0.11.23) pays on every message.
//! - [`PythonSink`]: `scripts/smtp_sink.py` (aiosmtpd), the sink of the test suite, which writes
//!   every message to a file; started with its control channel it can be switched to `down`
//!   (port closed), `tempfail` (451 4.3.0), `permfail:<address>` (550 for that recipient) and `ok`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// What a sink received.
#[derive(Default)]
pub struct Received {
    messages: AtomicU64,
    ids: Mutex<HashMap<String, u32>>,
}

impl Received {
    /// Messages accepted so far.
    pub fn count(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// (distinct Message-IDs, messages whose Message-ID arrived more than once).
    pub fn distinct_and_duplicates(&self) -> (usize, usize) {
        let ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        (ids.len(), ids.values().map(|&n| n.saturating_sub(1) as usize).sum())
    }
}

/// The in-process Rust sink.
pub struct RustSink {
    port: u16,
    received: Arc<Received>,
    down: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl RustSink {
    /// Listens on a free loopback port.
    pub async fn start(quick_acks: bool) -> anyhow::Result<RustSink> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the Rust SMTP sink")?;
        let port = listener.local_addr()?.port();
        let received = Arc::new(Received::default());
        let (down, down_rx) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, port, received.clone(), down_rx, quick_acks));
        Ok(RustSink { port, received, down, task })
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// What arrived.
    pub fn received(&self) -> &Received {
        &self.received
    }

    /// Down: the port is closed and open sessions are dropped. Up: it listens again.
    pub fn set_down(&self, down: bool) {
        let _ = self.down.send(down);
    }
}

impl Drop for RustSink {
    fn drop(&mut self) {
        let _ = self.down.send(true);
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, port: u16, received: Arc<Received>, mut down: watch::Receiver<bool>, quick_acks: bool) {
    let mut listener = Some(listener);
    loop {
        match &listener {
            Some(l) => {
                tokio::select! {
                    accepted = l.accept() => {
                        if let Ok((sock, _)) = accepted {
                            let _ = sock.set_nodelay(true);
                            tokio::spawn(session(sock, received.clone(), down.clone(), quick_acks));
                        }
                    }
                    changed = down.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        if *down.borrow() {
                            listener = None;
                        }
                    }
                }
            }
            None => {
                if down.changed().await.is_err() {
                    return;
                }
                if !*down.borrow() {
                    // tokio sets SO_REUSEADDR, so the same port binds again at once.
                    for _ in 0..50 {
                        if let Ok(l) = TcpListener::bind(("127.0.0.1", port)).await {
                            listener = Some(l);
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        }
    }
}

async fn session(sock: TcpStream, received: Arc<Received>, mut down: watch::Receiver<bool>, quick_acks: bool) {
    tokio::select! {
        _ = speak(sock, &received, quick_acks) => {}
        _ = down.wait_for(|d| *d) => {}
    }
}

/// Enough SMTP for lettre (no pipelining): greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
async fn speak(sock: TcpStream, received: &Received, quick_acks: bool) -> std::io::Result<()> {
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::with_capacity(64 * 1024, r);
    // Linux leaves quick-ACK mode on its own, so it is asked for again before every read.
    let quick = |r: &BufReader<tokio::net::tcp::OwnedReadHalf>| {
        if quick_acks {
            let _ = socket2::SockRef::from(r.get_ref().as_ref()).set_tcp_quickack(true);
        }
    };
    w.write_all(b"220 bench-sink ESMTP\r\n").await?;
    let mut line = Vec::with_capacity(1024);
    loop {
        line.clear();
        quick(&r);
        if r.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).map(|v| v.to_ascii_uppercase()).unwrap_or_default();
        match verb.as_slice() {
            b"EHLO" => w.write_all(b"250-bench-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n").await?,
            b"DATA" => {
                w.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut id = None;
                let mut in_headers = true;
                loop {
                    line.clear();
                    quick(&r);
                    if r.read_until(b'\n', &mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    if in_headers {
                        if line == b"\r\n" || line == b"\n" {
                            in_headers = false;
                        } else if id.is_none() && line.len() > 11 && line[..11].eq_ignore_ascii_case(b"message-id:") {
                            id = Some(String::from_utf8_lossy(&line[11..]).trim().to_owned());
                        }
                    }
                }
                received.messages.fetch_add(1, Ordering::Relaxed);
                *received.ids.lock().unwrap_or_else(PoisonError::into_inner).entry(id.unwrap_or_default()).or_insert(0) += 1;
                w.write_all(b"250 OK\r\n").await?;
            }
            b"QUIT" => {
                w.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => w.write_all(b"250 OK\r\n").await?,
        }
    }
}

/// `scripts/smtp_sink.py` in a child process with its own maildir.
pub struct PythonSink {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
    /// `http://127.0.0.1:<port>` of the control channel, when started with one.
    control: Option<String>,
}

impl PythonSink {
    /// Starts the sink with `python` (the test suite's `.venv/bin/python`).
    pub async fn start(python: &Path, script: &Path) -> anyhow::Result<PythonSink> {
        Self::spawn(python, script, false).await
    }

    /// Starts the sink with its control channel (see [`PythonSink::set_mode`]).
    pub async fn start_with_control(python: &Path, script: &Path) -> anyhow::Result<PythonSink> {
        Self::spawn(python, script, true).await
    }

    async fn spawn(python: &Path, script: &Path, with_control: bool) -> anyhow::Result<PythonSink> {
        let maildir = tempfile::tempdir()?;
        let mut cmd = Command::new(python);
        cmd.arg("-u").arg(script).args(["--host", "127.0.0.1", "--port", "0"]);
        if with_control {
            cmd.args(["--control-port", "0"]);
        }
        let mut child = cmd
            .arg("--maildir")
            .arg(maildir.path())
            .args(["--parent-pid", &std::process::id().to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
        let mut lines = BufReader::new(child.stdout.take().context("sink stdout")?).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut control = None;
        let port = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(line) = tokio::time::timeout(left, lines.next_line()).await.context("smtp_sink.py did not start within 20 s")?? else {
                bail!("smtp_sink.py exited at start");
            };
            if let Some(url) = line.strip_prefix("smtp_sink control on ") {
                control = Some(url.trim().to_owned());
            } else if let Some(addr) = line.strip_prefix("smtp_sink listening on ") {
                break addr.trim().rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).context("sink port")?;
            }
        };
        if with_control && control.is_none() {
            bail!("smtp_sink.py printed no control address");
        }
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(PythonSink { child, port, maildir, control })
    }

    /// Switches the mode through the control channel: `ok`, `tempfail`, `permfail:<address>` or
    /// `down` (see `scripts/smtp_sink.py`).
    pub async fn set_mode(&self, mode: &str) -> anyhow::Result<()> {
        let control = self.control.as_deref().context("this sink was started without its control channel")?;
        let r = reqwest::Client::new().post(format!("{control}/mode")).body(mode.to_owned()).send().await.context("sink control")?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        anyhow::ensure!(status.is_success(), "sink mode {mode}: {status} {}", text.trim());
        Ok(())
    }

    /// `smtp://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Messages written so far.
    pub fn count(&self) -> u64 {
        std::fs::read_dir(self.maildir.path())
            .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().ends_with(".eml")).count() as u64)
            .unwrap_or(0)
    }

    /// (distinct Message-IDs, messages whose Message-ID arrived more than once).
    pub fn distinct_and_duplicates(&self) -> (usize, usize) {
        let ids = self.message_ids();
        (ids.len(), ids.values().map(|&n| n.saturating_sub(1) as usize).sum())
    }

    /// How often each `Message-ID` (the header's value) arrived.
    pub fn message_ids(&self) -> HashMap<String, u32> {
        let mut ids: HashMap<String, u32> = HashMap::new();
        for e in std::fs::read_dir(self.maildir.path()).into_iter().flatten().flatten() {
            if !e.file_name().to_string_lossy().ends_with(".eml") {
                continue;
            }
            let text = std::fs::read_to_string(e.path()).unwrap_or_default();
            let id = text
                .lines()
                .take_while(|l| !l.is_empty())
                .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("message-id")).map(|(_, v)| v.trim().to_owned()))
                .unwrap_or_default();
            *ids.entry(id).or_insert(0) += 1;
        }
        ids
    }

    /// Stops the process.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// The repository root (where `.venv/` and `scripts/` live), from the bench crate's manifest.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A minimal SMTP client with `TCP_NODELAY` that writes each message and its terminator in one
/// write: it measures what a sink can take, free of any client-side stall.
pub async fn raw_send_loop(port: u16, messages: &[Vec<u8>], next: &AtomicU64, done: &AtomicU64) -> anyhow::Result<()> {
    let sock = TcpStream::connect(("127.0.0.1", port)).await?;
    sock.set_nodelay(true)?;
    let (r, mut w) = sock.into_split();
    let mut r = BufReader::new(r);
    let mut line = String::new();
    expect(&mut r, &mut line, "220").await?;
    w.write_all(b"EHLO bench.localhost\r\n").await?;
    expect(&mut r, &mut line, "250").await?;
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed) as usize;
        let Some(msg) = messages.get(i) else {
            w.write_all(b"QUIT\r\n").await?;
            return Ok(());
        };
        w.write_all(b"MAIL FROM:<noreply@quartier.localhost>\r\n").await?;
        expect(&mut r, &mut line, "250").await?;
        w.write_all(format!("RCPT TO:<helper-{i}@example.ch>\r\n").as_bytes()).await?;
        expect(&mut r, &mut line, "250").await?;
        w.write_all(b"DATA\r\n").await?;
        expect(&mut r, &mut line, "354").await?;
        w.write_all(msg).await?;
        expect(&mut r, &mut line, "250").await?;
        done.fetch_add(1, Ordering::Relaxed);
    }
}

async fn expect(r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, line: &mut String, code: &str) -> anyhow::Result<()> {
    loop {
        line.clear();
        if r.read_line(line).await? == 0 {
            bail!("the sink closed the connection");
        }
        if !line.starts_with(code) {
            bail!("expected {code}, got {}", line.trim_end());
        }
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

/// A message as it goes over the wire after DATA: dot-stuffed, ending in CRLF.CRLF.
pub fn wire_bytes(formatted: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(formatted.len() + 16);
    let mut at_line_start = true;
    for &b in formatted {
        if at_line_start && b == b'.' {
            out.push(b'.');
        }
        out.push(b);
        at_line_start = b == b'\n';
    }
    if !out.ends_with(b"\r\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b".\r\n");
    out
}

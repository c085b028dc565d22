//! The load client: booking attempts with unique `Idempotency-Key`s, a journal fsynced before each
//! request (key and intent) and after each response (key, status, booking id), and retries of
//! unanswered attempts with the same key.
//!
//! An answer is an acknowledgement when it is a 2xx or a business 409 (`slot_taken`,
//! `slot_unavailable`: the slot is genuinely taken); another 4xx is a refusal. A 503, another 5xx,
//! a 409 `idempotency_in_progress` or no answer at all (the server was killed) is retried with the
//! same key after a capped exponential backoff (at least the `Retry-After`), up to `max_tries`.
//! A try whose connection was refused (the server is down: nothing was sent) does not count
//! against `max_tries` (at most 200 of them per key) and is retried after 100-400 ms.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::Value;

use crate::world::{Intent, World, body};

/// Business conflicts: the answer to the attempt is "that time is taken".
pub const BUSINESS_409: &[&str] = &["slot_taken", "slot_unavailable"];

/// An append-only journal; every line is on disk (fsync) before `write` returns. Lines written at
/// the same time share one fsync.
#[derive(Clone)]
pub struct Journal {
    tx: std::sync::mpsc::Sender<(String, tokio::sync::oneshot::Sender<()>)>,
}

impl Journal {
    /// Creates (truncates) the journal file.
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let mut file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let (tx, rx) = std::sync::mpsc::channel::<(String, tokio::sync::oneshot::Sender<()>)>();
        std::thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while let Ok(more) = rx.try_recv() {
                    batch.push(more);
                }
                let mut buf = String::new();
                for (line, _) in &batch {
                    buf.push_str(line);
                    buf.push('\n');
                }
                if file.write_all(buf.as_bytes()).and_then(|()| file.sync_data()).is_err() {
                    // Waiters see a dropped sender: the run fails loudly.
                    return;
                }
                for (_, done) in batch {
                    let _ = done.send(());
                }
            }
        });
        Ok(Self { tx })
    }

    /// Appends a line and waits until it is durable.
    pub async fn write(&self, line: String) -> anyhow::Result<()> {
        let (done, wait) = tokio::sync::oneshot::channel();
        self.tx.send((line, done)).map_err(|_| anyhow::anyhow!("the journal writer stopped"))?;
        wait.await.map_err(|_| anyhow::anyhow!("writing the journal failed"))
    }
}

/// What a request got back.
#[derive(Clone, Debug)]
pub enum Answer {
    /// 2xx with the booking's id.
    Created(String),
    /// A business 409.
    Taken(String),
    /// Another 4xx (status, code).
    Refused(u16, String),
    /// 409 `idempotency_in_progress`: the key's first request has not finished (or its process
    /// died and the claim is not stale yet).
    InProgress,
    /// 5xx (status, code, whether `Retry-After` was sent).
    ServerError(u16, String, bool),
    /// No HTTP answer; `sent` when the request may have reached the server.
    Unanswered { sent: bool, error: String },
}

impl Answer {
    fn status(&self) -> u16 {
        match self {
            Answer::Created(_) => 201,
            Answer::Taken(_) | Answer::InProgress => 409,
            Answer::Refused(s, _) | Answer::ServerError(s, _, _) => *s,
            Answer::Unanswered { .. } => 0,
        }
    }

    fn code(&self) -> &str {
        match self {
            Answer::Created(_) => "-",
            Answer::Taken(c) | Answer::Refused(_, c) | Answer::ServerError(_, c, _) => c,
            Answer::InProgress => "idempotency_in_progress",
            Answer::Unanswered { sent: true, .. } => "no_answer",
            Answer::Unanswered { sent: false, .. } => "no_connection",
        }
    }

    fn is_final(&self) -> bool {
        matches!(self, Answer::Created(_) | Answer::Taken(_) | Answer::Refused(..))
    }
}

/// One HTTP exchange, for the figures.
#[derive(Clone, Debug)]
pub struct Record {
    /// Since the start of the load.
    pub sent: Duration,
    /// How long until the answer (or the error).
    pub took: Duration,
    /// 0 for no answer.
    pub status: u16,
    /// The problem's code, `no_answer`, `no_connection` or `-`.
    pub code: String,
    /// Whether a 503 carried `Retry-After`.
    pub retry_after: bool,
    /// A booking attempt (else a read).
    pub write: bool,
}

/// Where one attempt ended.
#[derive(Clone, Debug, Default)]
pub struct KeyState {
    /// Requests sent with the key.
    pub tries: u32,
    /// Tries whose connection was refused (the request never left the client).
    pub refused_connects: u32,
    /// The final answer; `None` while unresolved (or after giving up).
    pub last: Option<Answer>,
    /// A request with this key was sent and got no answer (the server died under it).
    pub in_flight_at_kill: bool,
    /// Gave up after `max_tries`.
    pub gave_up: bool,
}

/// Options of a load run.
pub struct LoadSpec {
    /// Parallel clients.
    pub concurrency: usize,
    /// Tries per key.
    pub max_tries: u32,
    /// Share of requests that are reads (R4's mixed load); 0 for R3.
    pub read_share: f64,
    /// Key prefix (unique per run).
    pub key_prefix: String,
    /// Per-request client timeout.
    pub client_timeout: Duration,
}

/// Shared between the load, the nemesis and the progress line.
pub struct Shared {
    /// Requests on the wire right now.
    pub in_flight: AtomicUsize,
    /// Fresh attempts not yet sent.
    pub fresh_left: AtomicUsize,
    /// Attempts with a final answer (or given up).
    pub settled: AtomicUsize,
    /// Stop sending fresh attempts (R4: the load's time is up).
    pub stop_fresh: AtomicBool,
    /// Every exchange.
    pub records: Mutex<Vec<Record>>,
    /// Time zero.
    pub t0: Instant,
}

struct Sched {
    fresh: VecDeque<usize>,
    retry: BinaryHeap<Reverse<(Instant, usize)>>,
    open: usize,
}

/// Runs the attempts to the end (every key final or given up); returns each key's state.
pub async fn run(
    spec: LoadSpec,
    world: Arc<World>,
    intents: Arc<Vec<Intent>>,
    base: String,
    journal: Journal,
    shared: Arc<Shared>,
) -> anyhow::Result<Vec<KeyState>> {
    let n = intents.len();
    shared.fresh_left.store(n, Ordering::SeqCst);
    let sched = Arc::new(Mutex::new(Sched { fresh: (0..n).collect(), retry: BinaryHeap::new(), open: n }));
    let states = Arc::new(Mutex::new(vec![KeyState::default(); n]));
    let client = reqwest::Client::builder().timeout(spec.client_timeout).pool_max_idle_per_host(spec.concurrency).build()?;
    let spec = Arc::new(spec);
    let mut tasks = Vec::new();
    for w in 0..spec.concurrency {
        let (spec, world, intents, base, journal, shared, sched, states, client) = (
            spec.clone(),
            world.clone(),
            intents.clone(),
            base.clone(),
            journal.clone(),
            shared.clone(),
            sched.clone(),
            states.clone(),
            client.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::from_os_rng();
            loop {
                if spec.read_share > 0.0 && !shared.stop_fresh.load(Ordering::SeqCst) && rng.random::<f64>() < spec.read_share {
                    let (_, token) = &world.customers[rng.random_range(0..world.customers.len())];
                    read_once(&client, &base, token, &shared).await;
                    continue;
                }
                let next = {
                    let mut s = sched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let now = Instant::now();
                    if let Some(Reverse((due, k))) = s.retry.peek().copied()
                        && due <= now
                    {
                        s.retry.pop();
                        Ok(k)
                    } else if !shared.stop_fresh.load(Ordering::SeqCst)
                        && let Some(k) = s.fresh.pop_front()
                    {
                        shared.fresh_left.fetch_sub(1, Ordering::SeqCst);
                        Ok(k)
                    } else if s.open == 0 || (shared.stop_fresh.load(Ordering::SeqCst) && s.retry.is_empty() && s.open == s.fresh.len()) {
                        Err(None)
                    } else {
                        let wait = s.retry.peek().map_or(Duration::from_millis(20), |Reverse((due, _))| due.saturating_duration_since(now));
                        Err(Some(wait.min(Duration::from_millis(50))))
                    }
                };
                let k = match next {
                    Ok(k) => k,
                    Err(None) => return Ok::<(), anyhow::Error>(()),
                    Err(Some(wait)) => {
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                };
                let Some(intent) = intents.get(k) else { continue };
                let key = format!("{}-{k}", spec.key_prefix);
                let tries = {
                    let mut st = states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    st[k].tries += 1;
                    st[k].tries
                };
                let (cust_id, token) = &world.customers[intent.customer];
                journal.write(format!("S {key} {tries} {cust_id} {} {}", world.helpers[intent.helper], intent.start_ms)).await?;
                let answer = book_once(&client, &base, token, &key, body(&world, intent)?, &shared).await;
                let refused = matches!(answer, Answer::Unanswered { sent: false, .. });
                let booking = if let Answer::Created(id) = &answer { id.as_str() } else { "-" };
                journal.write(format!("R {key} {} {booking} {}", answer.status(), answer.code())).await?;
                let retry_after = match &answer {
                    Answer::InProgress => Some(Duration::from_secs(1)),
                    _ => None,
                };
                let (done, counted) = {
                    let mut st = states.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    let ks = &mut st[k];
                    if matches!(answer, Answer::Unanswered { sent: true, .. }) {
                        ks.in_flight_at_kill = true;
                    }
                    let fin = answer.is_final();
                    ks.last = Some(answer);
                    if refused {
                        ks.refused_connects += 1;
                    }
                    if !fin && (ks.tries - ks.refused_connects >= spec.max_tries || ks.refused_connects >= 200) {
                        ks.gave_up = true;
                    }
                    (fin || ks.gave_up, (ks.tries - ks.refused_connects).max(1))
                };
                let mut s = sched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                if done {
                    s.open -= 1;
                    shared.settled.fetch_add(1, Ordering::SeqCst);
                } else {
                    // Refused: the server is being restarted (it takes a few hundred ms).
                    let base_ms = if refused { 250 } else { 100u64.saturating_mul(1 << (counted.min(7) - 1)).min(8_000) };
                    let delay = Duration::from_millis(base_ms).max(retry_after.unwrap_or_default()).mul_f64(rng.random_range(0.8..1.2));
                    s.retry.push(Reverse((Instant::now() + delay, k)));
                }
                let _ = w;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let states = states.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    Ok(states)
}

fn record(shared: &Shared, sent: Instant, status: u16, code: &str, retry_after: bool, write: bool) {
    let r = Record { sent: sent.duration_since(shared.t0), took: sent.elapsed(), status, code: code.to_owned(), retry_after, write };
    shared.records.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(r);
}

async fn book_once(client: &reqwest::Client, base: &str, token: &str, key: &str, body: Value, shared: &Shared) -> Answer {
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let t = Instant::now();
    let res = client.post(format!("{base}/v1/bookings")).bearer_auth(token).header("Idempotency-Key", key).json(&body).send().await;
    let answer = match res {
        Err(e) => Answer::Unanswered { sent: !e.is_connect(), error: e.to_string() },
        Ok(res) => {
            let status = res.status().as_u16();
            let retry_after = res.headers().contains_key(reqwest::header::RETRY_AFTER);
            match res.text().await {
                Err(e) => Answer::Unanswered { sent: true, error: e.to_string() },
                Ok(text) => {
                    let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    let code = v["code"].as_str().unwrap_or("-").to_owned();
                    match status {
                        200..=299 => Answer::Created(v["id"].as_str().unwrap_or("?").to_owned()),
                        409 if BUSINESS_409.contains(&code.as_str()) => Answer::Taken(code),
                        409 if code == "idempotency_in_progress" => Answer::InProgress,
                        500..=599 => Answer::ServerError(status, code, retry_after),
                        _ => Answer::Refused(status, code),
                    }
                }
            }
        }
    };
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    let retry_after = matches!(answer, Answer::ServerError(_, _, true));
    record(shared, t, answer.status(), answer.code(), retry_after, true);
    if let Answer::Unanswered { error, sent } = &answer
        && std::env::var_os("CHAOS_DEBUG").is_some()
    {
        eprintln!("no answer (sent {sent}): {error}");
    }
    answer
}

async fn read_once(client: &reqwest::Client, base: &str, token: &str, shared: &Shared) {
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let t = Instant::now();
    let res = client.get(format!("{base}/v1/bookings?limit=5")).bearer_auth(token).send().await;
    let (status, code, retry_after) = match res {
        Err(e) => (0, if e.is_connect() { "no_connection" } else { "no_answer" }.to_owned(), false),
        Ok(res) => {
            let status = res.status().as_u16();
            let retry_after = res.headers().contains_key(reqwest::header::RETRY_AFTER);
            let v: Value = res.json().await.unwrap_or(Value::Null);
            (status, v["code"].as_str().unwrap_or("-").to_owned(), retry_after)
        }
    };
    shared.in_flight.fetch_sub(1, Ordering::SeqCst);
    record(shared, t, status, &code, retry_after, false);
}

/// One key's story as the journal tells it.
#[derive(Debug, Default, Clone)]
pub struct JournalKey {
    /// (customer, helper, start ms) from the intent line.
    pub intent: Option<(String, String, i64)>,
    /// Requests sent.
    pub sent: u32,
    /// Answers received (status, booking id or `-`, code), in order.
    pub answers: Vec<(u16, String, String)>,
}

impl JournalKey {
    /// The acknowledged booking id, if a 2xx came back.
    pub fn created(&self) -> Option<&str> {
        self.answers.iter().find(|a| (200..300).contains(&a.0)).map(|a| a.1.as_str())
    }

    /// Acknowledged: a 2xx or a business 409.
    pub fn acked(&self) -> bool {
        self.answers.iter().any(|a| (200..300).contains(&a.0) || (a.0 == 409 && BUSINESS_409.contains(&a.2.as_str())))
    }

    /// Refused: another 4xx than the retryable 409.
    pub fn refused(&self) -> bool {
        !self.acked() && self.answers.iter().any(|a| (400..500).contains(&a.0) && a.2 != "idempotency_in_progress")
    }

    /// A request got no answer (status 0 with `no_answer`).
    pub fn cut_off(&self) -> bool {
        self.answers.iter().any(|a| a.0 == 0 && a.2 == "no_answer")
    }
}

/// Reads a journal back: key -> story, in key order of first appearance.
pub fn read_journal(path: &Path) -> anyhow::Result<Vec<(String, JournalKey)>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut order: Vec<String> = Vec::new();
    let mut map: std::collections::HashMap<String, JournalKey> = std::collections::HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (Some(kind), Some(key)) = (f.first(), f.get(1)) else { continue };
        let entry = map.entry((*key).to_owned()).or_insert_with(|| {
            order.push((*key).to_owned());
            JournalKey::default()
        });
        match *kind {
            "S" => {
                entry.sent += 1;
                if entry.intent.is_none()
                    && let (Some(c), Some(h), Some(s)) = (f.get(3), f.get(4), f.get(5).and_then(|s| s.parse().ok()))
                {
                    entry.intent = Some(((*c).to_owned(), (*h).to_owned(), s));
                }
            }
            "R" => {
                let status = f.get(2).and_then(|s| s.parse().ok()).unwrap_or(0);
                entry.answers.push((status, f.get(3).unwrap_or(&"-").to_string(), f.get(4).unwrap_or(&"-").to_string()));
            }
            _ => {}
        }
    }
    Ok(order
        .into_iter()
        .map(|k| {
            let v = map.remove(&k).unwrap_or_default();
            (k, v)
        })
        .collect())
}

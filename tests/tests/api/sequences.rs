//! A property test of the helper's calendar: seeded random sequences of creates, accepts, cancels
//! and reschedules run against a real server, and every outcome is checked against an in-memory
//! model of each helper's blocked intervals (the 45-minute job plus 15-minute travel buffers on
//! both sides). After every operation the active rows of the `bookings` table must equal the
//! model's, and no two rows of one helper may overlap.
//!
//! The sequences are deterministic in their seed (SplitMix64); a failure names the seed, the
//! operation's number and what it did, so it can be replayed.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::harness::{Backend, Res, TestApp, spawn_app_with};

/// The seeds every backend runs, each on a fresh world of 3 helpers and 3 customers.
const SEEDS: [u64; 4] = [0x5EED_0001, 0x00C0_FFEE, 0xDEAD_BEEF, 0x0000_002A];
/// Operations per seed.
const OPS: usize = 40;

const MINUTE: i64 = 60_000;
/// `guest-wifi` lasts 45 minutes.
const JOB: i64 = 45 * MINUTE;
/// The default travel buffer, before and after every visit.
const BUFFER: i64 = 15 * MINUTE;
/// Starts are quarter hours from 08:00 to 12:00 UTC (17 of them).
const FIRST_START_MINUTE: i64 = 8 * 60;
const START_SLOTS: u64 = 17;

const ACTIVE: &str = "SELECT id, helper_id, blocked_from, blocked_to FROM bookings
     WHERE state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site')";

/// SplitMix64: small, fast and fully deterministic.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next_u64() % u64::try_from(n).expect("n fits u64")).expect("fits usize")
    }

    /// One of the 17 quarter-hour starts, as minutes after midnight.
    fn start_minute(&mut self) -> i64 {
        FIRST_START_MINUTE + 15 * i64::try_from(self.next_u64() % START_SLOTS).expect("small")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Requested,
    Accepted,
}

/// An active booking as the model sees it.
#[derive(Debug, Clone)]
struct Booking {
    /// Which seed's world it belongs to.
    world: usize,
    helper: usize,
    customer: usize,
    /// Epoch ms.
    start: i64,
    phase: Phase,
}

fn blocked(start: i64) -> (i64, i64) {
    (start - BUFFER, start + JOB + BUFFER)
}

fn overlaps(a: (i64, i64), b: (i64, i64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// One seed's accounts and day.
struct World {
    index: usize,
    seed: u64,
    backend: Backend,
    /// (user id, token) of the helpers.
    helpers: Vec<(String, String)>,
    /// Tokens of the customers.
    customers: Vec<String>,
    /// The day, `YYYY-MM-DD`.
    day: String,
}

impl World {
    /// Minutes after midnight (UTC) of a start on this world's day.
    fn minute_of(&self, start: i64) -> i64 {
        (start - self.start(0).1) / MINUTE
    }

    fn start(&self, minute_of_day: i64) -> (String, i64) {
        let text = format!("{}T{:02}:{:02}:00Z", self.day, minute_of_day / 60, minute_of_day % 60);
        let ms = text.parse::<jiff::Timestamp>().expect("rfc3339").as_millisecond();
        (text, ms)
    }
}

/// The model: every active booking of every world of this app, by id.
#[derive(Default)]
struct Model {
    active: BTreeMap<String, Booking>,
}

impl Model {
    /// Whether `interval` overlaps an active booking of `helper` in `world` other than `except`.
    fn collides(&self, world: usize, helper: usize, interval: (i64, i64), except: Option<&str>) -> bool {
        self.active
            .iter()
            .filter(|(id, b)| b.world == world && b.helper == helper && Some(id.as_str()) != except)
            .any(|(_, b)| overlaps(blocked(b.start), interval))
    }

    /// Ids of this world's active bookings, optionally only in one phase (stable order).
    fn ids(&self, world: usize, phase: Option<Phase>) -> Vec<String> {
        self.active.iter().filter(|(_, b)| b.world == world && phase.is_none_or(|p| b.phase == p)).map(|(id, _)| id.clone()).collect()
    }
}

/// What happened over a backend's run.
#[derive(Default, Debug)]
struct Stats {
    created: usize,
    refused: usize,
    accepted: usize,
    cancelled: usize,
    moved: usize,
    move_refused: usize,
}

fn day_in(days: i64) -> String {
    jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date().checked_add(jiff::Span::new().days(days)).expect("date").to_string()
}

fn starts_at(body: &Value) -> i64 {
    body["starts_at"].as_str().expect("starts_at").parse::<jiff::Timestamp>().expect("rfc3339").as_millisecond()
}

fn show(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map(|t| t.to_string()).unwrap_or_else(|_| ms.to_string())
}

async fn transition(app: &TestApp, token: &str, id: &str, body: Value) -> Res {
    app.post(&format!("/v1/bookings/{id}/transitions"), Some(token), body).await
}

/// The table's active bookings must be exactly the model's, with the model's intervals, and no
/// two of one helper may overlap.
async fn check_table(app: &TestApp, model: &Model, worlds: &[World], ctx: &str) {
    let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(ACTIVE).fetch_all(app.store.pool()).await.expect("active bookings");
    let got: BTreeMap<String, (String, i64, i64)> = rows.iter().map(|(id, h, from, to)| (id.clone(), (h.clone(), *from, *to))).collect();
    let want: BTreeMap<String, (String, i64, i64)> = model
        .active
        .iter()
        .map(|(id, b)| {
            let (from, to) = blocked(b.start);
            (id.clone(), (worlds[b.world].helpers[b.helper].0.clone(), from, to))
        })
        .collect();
    if got != want {
        let mut diff = String::new();
        for (id, row) in &got {
            match want.get(id) {
                None => writeln!(diff, "  only in the table: {id} {} [{}, {})", row.0, show(row.1), show(row.2)),
                Some(m) if m != row => {
                    writeln!(diff, "  differs: {id} table [{}, {}) model [{}, {})", show(row.1), show(row.2), show(m.1), show(m.2))
                }
                Some(_) => Ok(()),
            }
            .expect("write");
        }
        for (id, m) in want.iter().filter(|(id, _)| !got.contains_key(*id)) {
            writeln!(diff, "  only in the model: {id} {} [{}, {})", m.0, show(m.1), show(m.2)).expect("write");
        }
        panic!("{ctx}: the table's active bookings differ from the model:\n{diff}");
    }
    for (i, a) in rows.iter().enumerate() {
        for b in rows.iter().skip(i + 1).filter(|b| b.1 == a.1) {
            assert!(a.3 <= b.2 || b.3 <= a.2, "{ctx}: two active bookings of helper {} overlap in the table: {a:?} {b:?}", a.1);
        }
    }
}

/// Runs one seed's sequence on a fresh world of the shared app.
async fn run_seed(app: &TestApp, model: &mut Model, worlds: &mut Vec<World>, stats: &mut Stats, seed: u64) {
    let mut rng = SplitMix64(seed);
    let index = worlds.len();
    let mut helpers = Vec::new();
    for _ in 0..3 {
        let (id, token, _) = app.helper_with_profile(&["wifi"]).await;
        helpers.push((id, token));
    }
    let mut customers = Vec::new();
    for _ in 0..3 {
        customers.push(app.signed_up("customer").await.1);
    }
    let days = 3 + i64::try_from(rng.next_u64() % 3).expect("small");
    worlds.push(World { index, seed, backend: app.backend, helpers, customers, day: day_in(days) });
    let w = &worlds[index];

    for op in 1..=OPS {
        let pick = rng.below(100);
        let requested = model.ids(w.index, Some(Phase::Requested));
        let accepted = model.ids(w.index, Some(Phase::Accepted));
        let any = model.ids(w.index, None);
        let ctx = |what: &str| format!("seed {:#x} ({:?}, day {}) op {op}/{OPS}: {what}", w.seed, w.backend, w.day);
        if pick < 20 && !requested.is_empty() {
            // The helper accepts one of their requests.
            let id = requested[rng.below(requested.len())].clone();
            let b = model.active[&id].clone();
            let what = ctx(&format!("helper h{} accepts {id} (c{}, {})", b.helper, b.customer, show(b.start)));
            let r = transition(app, &w.helpers[b.helper].1, &id, json!({"action": "accept"})).await;
            assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
            assert_eq!(r.body["state"], "accepted", "{what}: {}", r.text);
            model.active.get_mut(&id).expect("in the model").phase = Phase::Accepted;
            stats.accepted += 1;
            check_table(app, model, worlds, &what).await;
        } else if pick < 35 && !any.is_empty() {
            // The customer cancels an active booking.
            let id = any[rng.below(any.len())].clone();
            let b = model.active[&id].clone();
            let what = ctx(&format!("customer c{} cancels {id} ({:?}, h{}, {})", b.customer, b.phase, b.helper, show(b.start)));
            let r = transition(app, &w.customers[b.customer], &id, json!({"action": "cancel"})).await;
            assert_eq!(r.status, StatusCode::OK, "{what}: {}", r.text);
            assert_eq!(r.body["state"], "cancelled_by_customer", "{what}: {}", r.text);
            model.active.remove(&id);
            stats.cancelled += 1;
            check_table(app, model, worlds, &what).await;
        } else if pick < 55 && !accepted.is_empty() {
            // The customer proposes a new start for an accepted booking; the helper agrees.
            let id = accepted[rng.below(accepted.len())].clone();
            let b = model.active[&id].clone();
            // Half the time, aim near another booking of the same helper (0 to 90 minutes after
            // its start, clamped to the morning), so that both collisions and exact touches occur.
            let others: Vec<i64> = model
                .active
                .iter()
                .filter(|(o, x)| x.world == w.index && x.helper == b.helper && **o != id)
                .map(|(_, x)| x.start)
                .collect();
            let minute = if !others.is_empty() && rng.below(2) == 0 {
                let near = w.minute_of(others[rng.below(others.len())]) + 15 * i64::try_from(rng.below(7)).expect("small");
                near.clamp(FIRST_START_MINUTE, FIRST_START_MINUTE + 15 * (i64::try_from(START_SLOTS).expect("small") - 1))
            } else {
                rng.start_minute()
            };
            let (new_text, new_start) = w.start(minute);
            let fits = !model.collides(w.index, b.helper, blocked(new_start), Some(&id));
            let what = ctx(&format!(
                "c{} moves {id} of h{} from {} to {new_text} (model: {})",
                b.customer,
                b.helper,
                show(b.start),
                if fits { "fits" } else { "collides" }
            ));
            let proposed = transition(app, &w.customers[b.customer], &id, json!({"action": "reschedule", "start": new_text})).await;
            assert_eq!(proposed.status, StatusCode::OK, "{what}: the proposal: {}", proposed.text);
            assert_eq!(proposed.body["pending_by"], "customer", "{what}: {}", proposed.text);
            check_table(app, model, worlds, &format!("{what} (after the proposal)")).await;
            let agreed = transition(app, &w.helpers[b.helper].1, &id, json!({"action": "accept_reschedule"})).await;
            if fits {
                assert_eq!(agreed.status, StatusCode::OK, "{what}: accept_reschedule: {}", agreed.text);
                assert_eq!(starts_at(&agreed.body), new_start, "{what}: {}", agreed.text);
                assert_eq!(agreed.body["state"], "accepted", "{what}: {}", agreed.text);
                model.active.get_mut(&id).expect("in the model").start = new_start;
                stats.moved += 1;
            } else {
                assert_eq!(agreed.status, StatusCode::CONFLICT, "{what}: accept_reschedule: {}", agreed.text);
                assert_eq!(agreed.code(), "slot_taken", "{what}: {}", agreed.text);
                let now = app.get(&format!("/v1/bookings/{id}"), Some(&w.customers[b.customer])).await;
                assert_eq!(now.status, StatusCode::OK, "{what}: {}", now.text);
                assert_eq!(starts_at(&now.body), b.start, "{what}: a refused move keeps the old time: {}", now.text);
                stats.move_refused += 1;
            }
            check_table(app, model, worlds, &what).await;
        } else {
            // A customer books a helper.
            let customer = rng.below(w.customers.len());
            let helper = rng.below(w.helpers.len());
            let (text, start) = w.start(rng.start_minute());
            let fits = !model.collides(w.index, helper, blocked(start), None);
            let what = ctx(&format!("c{customer} books h{helper} at {text} (model: {})", if fits { "fits" } else { "collides" }));
            let r = app
                .post(
                    "/v1/bookings",
                    Some(&w.customers[customer]),
                    json!({"service": "guest-wifi", "address": "Seestrasse 12, 8002 Zürich", "start": text, "helper_id": w.helpers[helper].0}),
                )
                .await;
            if fits {
                assert_eq!(r.status, StatusCode::CREATED, "{what}: {}", r.text);
                assert_eq!(starts_at(&r.body), start, "{what}: {}", r.text);
                assert_eq!(r.body["state"], "requested", "{what}: {}", r.text);
                let id = r.body["id"].as_str().expect("booking id").to_owned();
                model.active.insert(id, Booking { world: w.index, helper, customer, start, phase: Phase::Requested });
                stats.created += 1;
            } else {
                assert_eq!(r.status, StatusCode::CONFLICT, "{what}: {}", r.text);
                let code = r.code();
                assert!(code == "slot_unavailable" || code == "slot_taken", "{what}: {}", r.text);
                stats.refused += 1;
            }
            check_table(app, model, worlds, &what).await;
        }
    }
}

async fn random_sequences_match_the_model(backend: Backend) {
    let began = Instant::now();
    let app = spawn_app_with(backend, |s| s.login_attempts_per_address = 1000).await;
    let mut model = Model::default();
    let mut worlds = Vec::new();
    let mut stats = Stats::default();
    for seed in SEEDS {
        run_seed(&app, &mut model, &mut worlds, &mut stats, seed).await;
    }
    let sequences = began.elapsed();
    app.drain_outbox().await;
    let drained = began.elapsed();
    app.finish().await;
    println!(
        "{backend:?}: {} seeds x {OPS} operations in {:.1} s, outbox drained at {:.1} s, finished at {:.1} s: {stats:?}, {} bookings active at the end",
        SEEDS.len(),
        sequences.as_secs_f64(),
        drained.as_secs_f64(),
        began.elapsed().as_secs_f64(),
        model.active.len()
    );
    // Every kind of outcome happened at least once, or the sequences test less than they claim.
    assert!(
        stats.created > 0 && stats.refused > 0 && stats.accepted > 0 && stats.cancelled > 0 && stats.moved > 0 && stats.move_refused > 0,
        "{backend:?}: some outcome never happened: {stats:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_booking_sequences_match_the_interval_model_sqlite() {
    random_sequences_match_the_model(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_booking_sequences_match_the_interval_model_postgres() {
    random_sequences_match_the_model(Backend::Postgres).await;
}

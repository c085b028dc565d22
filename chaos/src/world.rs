//! The world the load runs in, made through the API: an operator (by the CLI), approved helpers
//! who are free around the clock, and customers; and the plan of booking attempts, chosen so that
//! some of them collide (the same start, or a start half an hour into another attempt's visit).

use std::time::Duration;

use anyhow::{Context as _, ensure};
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

use crate::server::Server;

/// The service every attempt books: 45 minutes, plus 15-minute buffers on either side.
pub const SERVICE: &str = "guest-wifi";
/// Distance between two planned slots of one helper (a visit blocks 75 minutes).
const SLOT_SPACING_MIN: i64 = 120;
/// Slots per helper and day (the helpers allow 20 visits a day).
const SLOTS_PER_DAY: i64 = 12;

/// People the load acts as.
pub struct World {
    /// Helper ids.
    pub helpers: Vec<String>,
    /// (id, access token) of each customer.
    pub customers: Vec<(String, String)>,
}

/// One booking attempt: who books which helper at which start.
#[derive(Clone, Debug)]
pub struct Intent {
    /// Index into `World::customers`.
    pub customer: usize,
    /// Index into `World::helpers`.
    pub helper: usize,
    /// Start, epoch ms.
    pub start_ms: i64,
    /// The slot group: attempts of one group compete for the same time.
    pub group: usize,
}

/// POSTs/PUTs JSON; (status, body).
pub async fn call(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<(u16, Value)> {
    let mut req = client.request(method, url).json(&body).timeout(Duration::from_secs(30));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let status = res.status().as_u16();
    let text = res.text().await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

async fn login(client: &reqwest::Client, base: &str, email: &str, password: &str) -> anyhow::Result<String> {
    let (s, l) =
        call(client, reqwest::Method::POST, format!("{base}/v1/auth/login"), None, json!({"email": email, "password": password})).await?;
    ensure!(s == 200, "login {email}: {s} {l}");
    Ok(l["access_token"].as_str().unwrap_or_default().to_owned())
}

async fn account(client: &reqwest::Client, base: &str, role: &str, k: usize) -> anyhow::Result<(String, String)> {
    let email = format!("chaos-{role}-{k}@example.ch");
    let password = "correct horse battery";
    let body = json!({"email": email, "password": password, "name": format!("Chaos {role} {k}"), "role": role, "locale": "en"});
    let (s, r) = call(client, reqwest::Method::POST, format!("{base}/v1/auth/register"), None, body).await?;
    ensure!(s == 201, "register {email}: {s} {r}");
    Ok((r["id"].as_str().unwrap_or_default().to_owned(), login(client, base, &email, password).await?))
}

/// Creates the operator (CLI), `helpers` approved helpers and `customers` customers.
pub async fn create(server: &Server, helpers: usize, customers: usize) -> anyhow::Result<World> {
    let client = reqwest::Client::new();
    let base = server.base();
    let op_email = "chaos-operator@example.ch";
    let op_password = "operator password 1";
    server
        .run_cli(
            &["admin", "create-operator", "--email", op_email, "--name", "Olivia Operator", "--password-stdin"],
            &format!("{op_password}\n"),
        )
        .await
        .context("creating the operator")?;
    let operator = login(&client, &base, op_email, op_password).await?;
    let mut helper_ids = Vec::new();
    for k in 0..helpers {
        let (id, token) = account(&client, &base, "helper", k).await?;
        let (s, b) = call(&client, reqwest::Method::PUT, format!("{base}/v1/helper/profile"), Some(&token),
            json!({"skills": ["wifi", "router"], "home": {"lat": 47.3769, "lon": 8.5417}, "travel_radius_km": 10, "bio": "Chaos helper.", "languages": ["de", "en"]})).await?;
        ensure!(s == 200, "profile: {s} {b}");
        let week: Vec<Value> = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            .iter()
            .map(|d| json!({"weekday": d, "start": "00:00", "end": "24:00"}))
            .collect();
        let (s, b) = call(
            &client,
            reqwest::Method::PUT,
            format!("{base}/v1/helper/availability"),
            Some(&token),
            json!({"rules": week, "min_notice_minutes": 0, "max_jobs_per_day": 20}),
        )
        .await?;
        ensure!(s == 200, "availability: {s} {b}");
        let (s, b) = call(&client, reqwest::Method::POST, format!("{base}/v1/helper/application"), Some(&token),
            json!({"legal_name": format!("Chaos Helper {k}"), "birth_date": "1980-05-17", "iban": "CH58 0079 1123 0008 8901 2", "quiz_answers": [1, 1, 0, 1, 2]})).await?;
        ensure!(s == 201, "application: {s} {b}");
        let (s, b) = call(
            &client,
            reqwest::Method::POST,
            format!("{base}/v1/ops/helpers/{id}/decision"),
            Some(&operator),
            json!({"decision": "approve", "reason": "Chaos helper"}),
        )
        .await?;
        ensure!(s == 200, "approval: {s} {b}");
        helper_ids.push(id);
    }
    let mut customer_list = Vec::new();
    for k in 0..customers {
        customer_list.push(account(&client, &base, "customer", k).await?);
    }
    Ok(World { helpers: helper_ids, customers: customer_list })
}

/// `attempts` booking attempts over `helpers` helpers and `customers` customers, in a seeded
/// random order. About 15 % of slots get a second attempt at the same start and about 5 % one half
/// an hour later (overlapping); no two attempts of one slot group come from the same customer, so
/// (customer, helper, start) identifies an attempt.
pub fn plan(attempts: usize, helpers: usize, customers: usize, seed: u64) -> anyhow::Result<Vec<Intent>> {
    ensure!(helpers > 0 && customers >= 3, "need helpers and at least 3 customers");
    let mut rng = StdRng::seed_from_u64(seed);
    // Day 2 from now, 00:00 UTC: far enough ahead for every notice rule, inside the 37-day horizon.
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::UTC).date();
    let first = today.checked_add(jiff::Span::new().days(2))?.to_zoned(jiff::tz::TimeZone::UTC)?.timestamp().as_millisecond();
    let mut out = Vec::with_capacity(attempts + 2);
    let mut group = 0usize;
    while out.len() < attempts {
        let helper = group % helpers;
        let n = group / helpers;
        let (day, k) = ((n as i64) / SLOTS_PER_DAY, (n as i64) % SLOTS_PER_DAY);
        let start_ms = first + day * 86_400_000 + k * SLOT_SPACING_MIN * 60_000;
        let c0 = rng.random_range(0..customers);
        out.push(Intent { customer: c0, helper, start_ms, group });
        let roll: f64 = rng.random();
        if roll < 0.15 {
            out.push(Intent { customer: (c0 + 1) % customers, helper, start_ms, group });
        } else if roll < 0.20 {
            out.push(Intent { customer: (c0 + 2) % customers, helper, start_ms: start_ms + 30 * 60_000, group });
        }
        group += 1;
    }
    out.truncate(attempts);
    let days = (group / helpers) as i64 / SLOTS_PER_DAY + 1;
    ensure!(days <= 30, "{attempts} attempts need {days} days of slots; use more helpers");
    out.shuffle(&mut rng);
    Ok(out)
}

/// The request body of an attempt.
pub fn body(world: &World, i: &Intent) -> anyhow::Result<Value> {
    let start = jiff::Timestamp::from_millisecond(i.start_ms)?;
    Ok(json!({
        "service": SERVICE,
        "address": "Langstrasse 21, 8004 Zürich",
        "start": start.to_string(),
        "helper_id": world.helpers.get(i.helper).context("helper index")?,
    }))
}

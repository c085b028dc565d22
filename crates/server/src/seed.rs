//! `quartier seed --demo` and `quartier admin create-operator`.

use std::io::Write;

use anyhow::Context;
use quartier_api::Passwords;
use quartier_domain::{Email, PersonName, UserId};
use quartier_store::matching::{DayName, StoredRule};
use quartier_store::{Store, StoreError, availability, helpers, users};

use crate::demo;
use crate::settings::Settings;

/// What the demo seed did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The demo city was created.
    Created {
        /// Helpers created.
        helpers: usize,
        /// Customers created.
        customers: usize,
    },
    /// The database already had people in it; nothing was changed.
    AlreadyPopulated,
}

/// Creates the demo city (helpers, customers, one operator) in one transaction, unless the
/// database already has users. Prints progress to `out`.
pub async fn seed_demo(store: &Store, settings: &Settings, helper_count: usize, out: &mut impl Write) -> anyhow::Result<SeedOutcome> {
    let mut conn = store.pool().acquire().await.map_err(StoreError::from)?;
    let existing = users::count_by_role(&mut conn, "helper").await? + users::count_by_role(&mut conn, "customer").await?;
    drop(conn);
    if existing > 0 {
        return Ok(SeedOutcome::AlreadyPopulated);
    }
    let cost = crate::startup::api_config(settings)?.password_cost;
    let passwords = Passwords::new(cost).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // Every demo account shares the published demo password, so one hash serves them all.
    let hash = passwords.hash(demo::DEMO_PASSWORD.to_owned()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let now = jiff::Timestamp::now().as_millisecond();
    let user = |email: &str, name: &str, role: &str, locale: &str| users::UserRow {
        id: UserId::new().to_string(),
        email: email.to_owned(),
        password_hash: hash.clone(),
        name: name.to_owned(),
        role: role.to_owned(),
        locale: locale.to_owned(),
        time_zone: settings.default_time_zone.clone(),
        created_at: now,
        updated_at: now,
    };

    let mut tx = store.begin().await?;
    let operator = user(demo::OPERATOR_EMAIL, "Olivia Operator", "operator", "en");
    users::insert(&mut tx, &operator).await?;
    let customers = demo::customers();
    for c in &customers {
        users::insert(&mut tx, &user(&c.email, &c.name, "customer", c.locale)).await?;
    }
    let helpers_list = demo::helpers(helper_count);
    let total = helpers_list.len();
    for (i, h) in helpers_list.iter().enumerate() {
        let locale = h.languages.first().copied().unwrap_or("de");
        let row = user(&h.email, &h.name, "helper", locale);
        users::insert(&mut tx, &row).await?;
        helpers::upsert(
            &mut tx,
            &helpers::ProfileRow {
                user_id: row.id.clone(),
                name: h.name.clone(),
                bio: h.bio.clone(),
                skills: serde_json::to_string(&h.skills)?,
                languages: serde_json::to_string(&h.languages)?,
                home_lat: h.lat,
                home_lon: h.lon,
                travel_radius_km: i64::from(h.travel_radius_km),
                updated_at: now,
            },
        )
        .await?;
        availability::put_schedule(
            &mut tx,
            &availability::ScheduleRow {
                user_id: row.id.clone(),
                time_zone: settings.default_time_zone.clone(),
                rules: serde_json::to_string(&demo_rules(i))?,
                paused: 0,
                min_notice_minutes: 120,
                max_jobs_per_day: Some(3),
                buffer_before_minutes: i64::from(settings.travel_buffer_minutes),
                buffer_after_minutes: i64::from(settings.travel_buffer_minutes),
                updated_at: now,
            },
        )
        .await?;
        quartier_store::vetting::submit(
            &mut tx,
            &quartier_store::vetting::ApplicationRow {
                user_id: row.id.clone(),
                status: "applied".into(),
                legal_name: h.name.clone(),
                birth_date: "1985-06-15".into(),
                iban: demo_iban(i),
                quiz: "[1,1,0,1,2]".into(),
                submitted_at: now,
                decided_at: None,
                decided_by: None,
                reason: None,
                appeal: None,
                appealed_at: None,
                appeal_against: None,
            },
        )
        .await?;
        quartier_store::vetting::decide(&mut tx, &row.id, "applied", "approved", &operator.id, "Demo helper, vetted", now).await?;
        if (i + 1) % 50 == 0 || i + 1 == total {
            writeln!(out, "  helpers {:>4}/{total}", i + 1)?;
        }
    }
    let bookings = demo_bookings(&mut tx, settings, &customers, &helpers_list, now).await?;
    writeln!(out, "  bookings {bookings} (done and paid, upcoming, requested)")?;
    let (past, filled) = demo_history(&mut tx, settings, &customers, &helpers_list, &operator.id, now).await?;
    writeln!(out, "  past requests {past} over {HISTORY_WEEKS} weeks ({filled} taken by a helper), for the operators' KPIs")?;
    let [new, trusted, super_] = demo_levels(&mut tx, now).await?;
    writeln!(out, "  levels: {new} new, {trusted} trusted, {super_} super-helpers (from the last 90 days)")?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(SeedOutcome::Created { helpers: total, customers: customers.len() })
}

/// A valid Swiss IBAN for demo helper `i` (bank 00700, account number from `i`).
pub fn demo_iban(i: usize) -> String {
    let bban = format!("00700{:012}", 110_000_000 + i);
    // ISO 13616: move "CH00" to the end, letters as numbers (C = 12, H = 17), mod 97.
    let digits = format!("{bban}121700");
    let rem = digits.bytes().fold(0u32, |acc, d| (acc * 10 + u32::from(d - b'0')) % 97);
    format!("CH{:02}{bban}", 98 - rem)
}

/// Demo bookings: for each customer some visits done (paid in cash, by card, or by invoice still
/// open; reviewed), some accepted and one requested, each with its locked quote, timeline and
/// ledger postings. Helpers get billing details so invoices carry a QR-bill. Returns the count.
async fn demo_bookings(
    tx: &mut quartier_store::Tx,
    settings: &Settings,
    customers: &[demo::DemoCustomer],
    helpers_list: &[demo::DemoHelper],
    now: i64,
) -> anyhow::Result<usize> {
    use quartier_pricing::ledger::{self as pl, PaymentMethod};
    use quartier_store::{bookings, catalog, conversation, ledger};
    let zone = jiff::tz::TimeZone::get(&settings.default_time_zone)?;
    let services = catalog::list(tx).await?;
    let policy = ledger::current_policy(tx).await?.unwrap_or_else(quartier_pricing::default_policy);
    let mut ids = Vec::new();
    for (i, h) in helpers_list.iter().enumerate() {
        let u = users::by_email(tx, &h.email).await?.ok_or_else(|| anyhow::anyhow!("demo helper missing"))?;
        let (postcode, town) =
            demo::neighbourhoods().iter().find(|n| n.name == h.neighbourhood).map(|n| (n.postcode, n.name)).unwrap_or(("8001", "Zürich"));
        ledger::put_billing(
            tx,
            &ledger::BillingRow {
                user_id: u.id.clone(),
                iban: demo_iban(i),
                vat_registered: i64::from(i.is_multiple_of(10)),
                street: "Quartierweg".into(),
                house_number: format!("{}", i % 90 + 1),
                postcode: postcode.into(),
                town: town.into(),
                updated_at: now,
            },
        )
        .await?;
        ids.push(u.id);
    }
    let mut count = 0;
    let day = 86_400_000i64;
    for (c, cust) in customers.iter().enumerate() {
        let customer = users::by_email(tx, &cust.email).await?.ok_or_else(|| anyhow::anyhow!("demo customer missing"))?;
        let place = quartier_domain::GeoPoint::new(cust.lat, cust.lon)?;
        for k in 0..6usize {
            let hi = (c * 37 + k * 13) % helpers_list.len().max(1);
            let (Some(h), Some(helper_id)) = (helpers_list.get(hi), ids.get(hi)) else { continue };
            let Some(service) = services.iter().find(|s| h.skills.contains(&s.skill.as_str())) else { continue };
            let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
            let offset_days: i64 = match k {
                0..=2 => -(i64::try_from(k).unwrap_or(0) * 2 + 1),
                3 | 4 => i64::try_from(k).unwrap_or(0),
                _ => 6,
            };
            let date = today.checked_add(jiff::Span::new().days(offset_days))?;
            let local = date.at(i8::try_from(9 + c).unwrap_or(9), 0, 0, 0);
            let start = local.to_zoned(zone.clone())?.timestamp();
            // Booked three days ahead, but never in the future.
            let booked_at =
                start.checked_sub(jiff::SignedDuration::from_hours(72))?.min(jiff::Timestamp::from_millisecond(now - 2 * 3_600_000)?);
            let home = quartier_domain::GeoPoint::new(h.lat, h.lon)?;
            let quote = quartier_pricing::quote::quote_visit(
                &quartier_pricing::QuoteRequest {
                    service,
                    extra_units: u32::try_from(k % 2).unwrap_or(0),
                    distance: quartier_pricing::DistanceBucket::of_metres(home.distance_m(place)),
                    local_start: local,
                    booked_at,
                    start,
                    helper_vat_registered: hi.is_multiple_of(10),
                },
                &quartier_pricing::PricingConfig::default(),
            )?;
            let state = match k {
                0..=2 => "done",
                3 | 4 => "accepted",
                _ => "requested",
            };
            let s_ms = start.as_millisecond();
            let e_ms = s_ms + i64::from(quote.duration_minutes) * 60_000;
            let buffer = i64::from(settings.travel_buffer_minutes) * 60_000;
            let done = state == "done";
            let method = match k {
                0 => Some("cash"),
                1 => Some("card"),
                2 => Some("invoice"),
                _ => None,
            };
            let row = bookings::BookingRow {
                id: quartier_domain::BookingId::new().to_string(),
                customer_id: customer.id.clone(),
                helper_id: helper_id.clone(),
                service_slug: service.slug.clone(),
                service_name: service.name.clone(),
                address: format!(
                    "Demoweg {}, {} {}",
                    c + 1,
                    demo::neighbourhoods().iter().find(|n| n.name == cust.neighbourhood).map(|n| n.postcode).unwrap_or("8001"),
                    cust.neighbourhood
                ),
                starts_at: s_ms,
                ends_at: e_ms,
                blocked_from: s_ms - buffer,
                blocked_to: e_ms + buffer,
                time_zone: settings.default_time_zone.clone(),
                state: state.into(),
                price_rappen: quote.total.rappen(),
                created_at: booked_at.as_millisecond(),
                updated_at: now,
                extra_units: i64::from(quote.extra_units),
                start_code: format!("{:04}", (c * 1000 + k * 77) % 10_000),
                signoff_code: format!("{:04}", (c * 2000 + k * 91 + 5) % 10_000),
                pending_extra_units: None,
                pending_start: None,
                pending_by: None,
                failure_cause: None,
                quote: serde_json::to_string(&quote)?,
                policy_version: i64::from(policy.version),
                payment_method: if done { method.map(str::to_owned) } else { None },
                paid_at: (done && k < 2).then_some(e_ms + 600_000),
                completed_at: done.then_some(e_ms),
            };
            bookings::insert(tx, &row).await?;
            let mut steps = vec![("request", None, "requested", row.created_at, customer.id.clone(), "customer")];
            if state != "requested" {
                steps.push(("accept", Some("requested"), "accepted", row.created_at + 1_800_000, helper_id.clone(), "helper"));
            }
            if done {
                steps.push(("arrive", Some("accepted"), "on_site", s_ms, helper_id.clone(), "helper"));
                steps.push(("complete", Some("on_site"), "done", e_ms, helper_id.clone(), "helper"));
            }
            insert_timeline(tx, &row.id, steps).await?;
            if done {
                let mut txs = vec![pl::booking_completed(&quote)?];
                if let Some(m) = match k {
                    0 => Some(PaymentMethod::Cash),
                    1 => Some(PaymentMethod::Card),
                    _ => None,
                } {
                    txs.push(pl::payment_received(m, quote.total)?);
                }
                let mut balances = pl::Balances::new();
                for t in &txs {
                    balances.apply(t)?;
                }
                if now - e_ms > i64::from(policy.dispute_window_hours) * 3_600_000 {
                    let t = pl::release_payout(
                        &balances,
                        jiff::Timestamp::from_millisecond(e_ms)?,
                        jiff::Timestamp::now(),
                        policy.dispute_window(),
                    )?;
                    txs.push(t);
                }
                for (j, t) in txs.iter().enumerate() {
                    ledger::post(tx, &UserId::new().to_string(), &row.id, helper_id, t, e_ms + i64::try_from(j).unwrap_or(0) * 60_000)
                        .await?;
                }
                conversation::insert_review(
                    tx,
                    &conversation::ReviewRow {
                        booking_id: row.id.clone(),
                        author_role: "customer".into(),
                        author_id: customer.id.clone(),
                        subject_id: helper_id.clone(),
                        rating: 4 + i64::try_from((c + k) % 2).unwrap_or(0),
                        body: "Very patient, explained everything.".into(),
                        created_at: e_ms + day / 2,
                    },
                )
                .await?;
            }
            count += 1;
        }
    }
    Ok(count)
}

/// One step of a demo timeline: (action, from state, to state, epoch ms, actor id, actor role).
type Step<'a> = (&'a str, Option<&'a str>, &'a str, i64, String, &'a str);

/// Writes a demo booking's timeline (the `system` role has no actor id).
async fn insert_timeline(tx: &mut quartier_store::Tx, booking_id: &str, steps: Vec<Step<'_>>) -> anyhow::Result<()> {
    for (action, from, to, at, actor, role) in steps {
        quartier_store::bookings::insert_event(
            tx,
            &quartier_store::bookings::EventRow {
                id: UserId::new().to_string(),
                booking_id: booking_id.to_owned(),
                at,
                actor_id: (role != "system").then_some(actor),
                actor_role: role.into(),
                action: action.into(),
                from_state: from.map(str::to_owned),
                to_state: to.into(),
                note: None,
            },
        )
        .await?;
    }
    Ok(())
}

/// Weeks of past requests the demo city has.
pub const HISTORY_WEEKS: i64 = 8;
/// Past requests per week in the demo city.
pub const HISTORY_PER_WEEK: usize = 40;

fn day_ms(days: i64) -> i64 {
    days * 86_400_000
}

/// Computes every helper's level from their history, as the server does after each visit.
/// Returns how many are new, trusted and super-helpers.
async fn demo_levels(tx: &mut quartier_store::Tx, now: i64) -> anyhow::Result<[usize; 3]> {
    use quartier_matching::reputation as rep;
    let ids = quartier_store::vetting::approved_ids(tx).await?;
    let mut counts = [0usize; 3];
    for id in ids {
        let history = quartier_store::reputation::history(tx, &id, now - rep::WINDOW_DAYS * 86_400_000).await?;
        let m = rep::metrics(&history);
        let (level, why_not_next) = rep::level_of(&m);
        let reason = if level > rep::Level::New {
            format!("{} thresholds met", level.as_str())
        } else {
            why_not_next.map(|w| format!("next level {w}")).unwrap_or_else(|| "top level".to_owned())
        };
        quartier_store::reputation::set_level(tx, &UserId::new().to_string(), &id, level.as_str(), &reason, now).await?;
        counts[usize::from(level.rank())] += 1;
    }
    Ok(counts)
}

/// Demo helpers who answer fast, always come and are rated highly (the super-helpers to be).
const STAR_HELPERS: usize = 3;

/// A small deterministic generator (the demo is the same on every machine).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap_or(0) % n.max(1)
    }
}

/// Eight weeks of past requests to chosen helpers, so the operators' KPIs and coverage map have
/// something to show: about 70 % are accepted within two hours (the benchmark), some later, some
/// never (more often in the outer towns, where fewer helpers live); most accepted visits were
/// done, paid by card, rated and paid out, a few cancelled, failed or missed. Returns (requests,
/// accepted).
async fn demo_history(
    tx: &mut quartier_store::Tx,
    settings: &Settings,
    customers: &[demo::DemoCustomer],
    helpers_list: &[demo::DemoHelper],
    operator_id: &str,
    now: i64,
) -> anyhow::Result<(usize, usize)> {
    use quartier_pricing::ledger::{self as pl, PaymentMethod};
    use quartier_store::{bookings, catalog, conversation, ledger};
    let zone = jiff::tz::TimeZone::get(&settings.default_time_zone)?;
    let services = catalog::list(tx).await?;
    let policy = ledger::current_policy(tx).await?.unwrap_or_else(quartier_pricing::default_policy);
    let places = demo::neighbourhoods();
    let mut rng = Lcg(20_261_122);
    let (mut total, mut filled) = (0, 0);
    let minute = 60_000i64;
    let today = jiff::Timestamp::now().to_zoned(zone.clone()).date();
    for week in 1..=HISTORY_WEEKS {
        for n in 0..HISTORY_PER_WEEK {
            let ci = rng.below(customers.len());
            // A few helpers carry much of the work (as in every community): the helper is drawn
            // with a steep skew, and the first three are the dependable super-helper kind.
            let u = rng.below(1_000_000) as f64 / 1_000_000.0;
            let hi = ((helpers_list.len() as f64) * u.powi(3)) as usize;
            let star = hi < STAR_HELPERS;
            let (Some(cust), Some(h)) = (customers.get(ci), helpers_list.get(hi)) else { continue };
            let Some(service) = services.iter().find(|s| h.skills.contains(&s.skill.as_str())) else { continue };
            let customer = users::by_email(tx, &cust.email).await?.ok_or_else(|| anyhow::anyhow!("demo customer missing"))?;
            let helper = users::by_email(tx, &h.email).await?.ok_or_else(|| anyhow::anyhow!("demo helper missing"))?;
            let place_i = rng.below(places.len());
            let place = &places[place_i];
            let days_back = week * 7 - i64::try_from(n % 7).unwrap_or(0);
            let date = today.checked_sub(jiff::Span::new().days(days_back))?;
            let local = date.at(i8::try_from(9 + rng.below(10)).unwrap_or(9), 0, 0, 0);
            let start = local.to_zoned(zone.clone())?.timestamp();
            let booked_at = start.checked_sub(jiff::SignedDuration::from_hours(i64::try_from(24 + rng.below(96)).unwrap_or(48)))?;
            // Minutes until a helper accepted, or never: outer towns (the end of the table) go
            // unanswered more often.
            let outer = place_i >= places.len() * 3 / 4;
            let roll = if star { rng.below(35) } else { rng.below(100) };
            let wait = match roll {
                _ if outer && roll < 40 && !star => None,
                0..=34 => Some(1 + rng.below(15)),
                35..=54 => Some(16 + rng.below(44)),
                55..=71 => Some(61 + rng.below(59)),
                72..=89 => Some(121 + rng.below(360)),
                _ => None,
            };
            let home = quartier_domain::GeoPoint::new(h.lat, h.lon)?;
            let at_place = quartier_domain::GeoPoint::new(place.lat, place.lon)?;
            let quote = quartier_pricing::quote::quote_visit(
                &quartier_pricing::QuoteRequest {
                    service,
                    extra_units: 0,
                    distance: quartier_pricing::DistanceBucket::of_metres(home.distance_m(at_place)),
                    local_start: local,
                    booked_at,
                    start,
                    helper_vat_registered: hi.is_multiple_of(10),
                },
                &quartier_pricing::PricingConfig::default(),
            )?;
            let outcome = if star { rng.below(80) } else { rng.below(100) };
            let state = match wait {
                None => {
                    if outcome < 50 {
                        "expired"
                    } else {
                        "declined"
                    }
                }
                Some(_) => match outcome {
                    0..=79 => "done",
                    80..=87 => "cancelled_by_customer",
                    88..=91 => "cancelled_by_helper",
                    92..=94 => "no_show_helper",
                    _ => "failed_visit",
                },
            };
            let s_ms = start.as_millisecond();
            let e_ms = s_ms + i64::from(quote.duration_minutes) * minute;
            let done = state == "done";
            let row = bookings::BookingRow {
                id: quartier_domain::BookingId::new().to_string(),
                customer_id: customer.id.clone(),
                helper_id: helper.id.clone(),
                service_slug: service.slug.clone(),
                service_name: service.name.clone(),
                address: format!("Dorfstrasse {}, {} {}", n + 1, place.postcode, place.name),
                starts_at: s_ms,
                ends_at: e_ms,
                blocked_from: s_ms,
                blocked_to: e_ms,
                time_zone: settings.default_time_zone.clone(),
                state: state.into(),
                price_rappen: quote.total.rappen(),
                created_at: booked_at.as_millisecond(),
                updated_at: now,
                extra_units: 0,
                start_code: String::new(),
                signoff_code: String::new(),
                pending_extra_units: None,
                pending_start: None,
                pending_by: None,
                failure_cause: (state == "failed_visit").then(|| "line_not_active".to_owned()),
                quote: serde_json::to_string(&quote)?,
                policy_version: i64::from(policy.version),
                payment_method: done.then(|| "card".to_owned()),
                paid_at: done.then_some(e_ms + 10 * minute),
                completed_at: done.then_some(e_ms),
            };
            bookings::insert(tx, &row).await?;
            let c_at = row.created_at;
            let mut steps = vec![("request", None, "requested", c_at, customer.id.clone(), "customer")];
            match wait {
                Some(m) => {
                    filled += 1;
                    let accepted = c_at + i64::try_from(m).unwrap_or(0) * minute;
                    steps.push(("accept", Some("requested"), "accepted", accepted, helper.id.clone(), "helper"));
                    let last = match state {
                        "done" => ("complete", Some("on_site"), "done", e_ms, helper.id.clone(), "helper"),
                        "cancelled_by_customer" => {
                            ("cancel", Some("accepted"), state, s_ms - 600 * minute, customer.id.clone(), "customer")
                        }
                        "cancelled_by_helper" => ("cancel", Some("accepted"), state, s_ms - 900 * minute, helper.id.clone(), "helper"),
                        "no_show_helper" => ("mark_no_show", Some("accepted"), state, s_ms + 20 * minute, customer.id.clone(), "customer"),
                        _ => ("report_failed", Some("on_site"), state, s_ms + 30 * minute, helper.id.clone(), "helper"),
                    };
                    if matches!(state, "done" | "failed_visit") {
                        steps.push(("arrive", Some("accepted"), "on_site", s_ms, helper.id.clone(), "helper"));
                    }
                    steps.push(last);
                }
                None if state == "expired" => {
                    steps.push(("expire", Some("requested"), "expired", c_at + 120 * minute, helper.id.clone(), "system"))
                }
                None => steps.push(("decline", Some("requested"), "declined", c_at + 240 * minute, helper.id.clone(), "helper")),
            }
            insert_timeline(tx, &row.id, steps).await?;
            if done {
                let mut txs = vec![pl::booking_completed(&quote)?, pl::payment_received(PaymentMethod::Card, quote.total)?];
                let mut balances = pl::Balances::new();
                for t in &txs {
                    balances.apply(t)?;
                }
                if now - e_ms > i64::from(policy.dispute_window_hours) * 3_600_000 {
                    txs.push(pl::release_payout(
                        &balances,
                        jiff::Timestamp::from_millisecond(e_ms)?,
                        jiff::Timestamp::now(),
                        policy.dispute_window(),
                    )?);
                }
                for (j, t) in txs.iter().enumerate() {
                    ledger::post(tx, &UserId::new().to_string(), &row.id, &helper.id, t, e_ms + i64::try_from(j).unwrap_or(0) * minute)
                        .await?;
                }
                conversation::insert_review(
                    tx,
                    &conversation::ReviewRow {
                        booking_id: row.id.clone(),
                        author_role: "customer".into(),
                        author_id: customer.id.clone(),
                        subject_id: helper.id.clone(),
                        rating: if star { [5, 5, 5, 5, 5, 5, 5, 4][rng.below(8)] } else { [5, 5, 5, 4, 4, 3][rng.below(6)] },
                        body: "Thank you!".into(),
                        created_at: e_ms + 120 * minute,
                    },
                )
                .await?;
                // A few visits were disputed and decided in the helper's favour.
                if rng.below(100) < 4 {
                    let d = quartier_store::disputes::DisputeRow {
                        id: UserId::new().to_string(),
                        booking_id: row.id.clone(),
                        opened_by: "customer".into(),
                        opened_by_user: customer.id.clone(),
                        reason: "poor_work".into(),
                        text: "The Wi-Fi dropped again the next day.".into(),
                        customer_statement: Some("The Wi-Fi dropped again the next day.".into()),
                        helper_statement: None,
                        status: "open".into(),
                        outcome: None,
                        refund_rappen: None,
                        penalty_rappen: None,
                        decision_note: None,
                        decided_by: None,
                        opened_at: e_ms + day_ms(1),
                        resolved_at: None,
                    };
                    quartier_store::disputes::open(tx, &d).await?;
                    quartier_store::disputes::resolve(
                        tx,
                        &d.id,
                        "payout",
                        0,
                        0,
                        "The router's firmware failed; the set-up was right.",
                        operator_id,
                        e_ms + day_ms(2),
                    )
                    .await?;
                }
            }
            total += 1;
        }
    }
    Ok((total, filled))
}

/// Weekly hours of demo helper `i`: four patterns of people with day jobs, retirees, students and
/// freelancers.
fn demo_rules(i: usize) -> Vec<StoredRule> {
    use DayName::*;
    let rule = |weekday, start_h: u16, end_h: u16| StoredRule { weekday, start_min: start_h * 60, end_min: end_h * 60 };
    match i % 4 {
        0 => vec![rule(Mon, 17, 21), rule(Tue, 17, 21), rule(Wed, 17, 21), rule(Thu, 17, 21), rule(Fri, 17, 21), rule(Sat, 9, 17)],
        1 => vec![rule(Mon, 8, 12), rule(Tue, 8, 12), rule(Wed, 8, 12), rule(Thu, 8, 12), rule(Fri, 8, 12), rule(Wed, 14, 17)],
        2 => vec![rule(Tue, 13, 20), rule(Thu, 13, 20), rule(Sat, 10, 18), rule(Sun, 10, 18)],
        _ => vec![rule(Mon, 9, 18), rule(Tue, 9, 18), rule(Wed, 9, 18), rule(Thu, 9, 18), rule(Fri, 9, 18), rule(Sat, 9, 13)],
    }
}

/// Prints how to sign in to the demo.
pub fn print_demo_accounts(settings: &Settings, out: &mut impl Write) -> std::io::Result<()> {
    let url = settings.public_url();
    writeln!(out, "Demo accounts (password for all: {}):", demo::DEMO_PASSWORD)?;
    writeln!(out, "  operator  {}", demo::OPERATOR_EMAIL)?;
    for c in demo::customers() {
        writeln!(out, "  customer  {}  ({}, {})", c.email, c.name, c.neighbourhood)?;
    }
    writeln!(out, "  helper    helper001@demo.quartier.ch ... helper200@demo.quartier.ch")?;
    writeln!(out, "Open {url} and sign in; the API is documented at {url}/docs")
}

/// Creates an operator account. Returns the new user's id.
pub async fn create_operator(store: &Store, settings: &Settings, email: &str, name: &str, password: &str) -> anyhow::Result<String> {
    let email = Email::parse(email)?;
    let name = PersonName::parse(name)?;
    anyhow::ensure!(password.chars().count() >= 10, "the password must have at least 10 characters");
    let cost = crate::startup::api_config(settings)?.password_cost;
    let passwords = Passwords::new(cost).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let hash = passwords.hash(password.to_owned()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let now = jiff::Timestamp::now().as_millisecond();
    let row = users::UserRow {
        id: UserId::new().to_string(),
        email: email.as_str().to_owned(),
        password_hash: hash,
        name: name.as_str().to_owned(),
        role: "operator".into(),
        locale: "en".into(),
        time_zone: settings.default_time_zone.clone(),
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin().await?;
    match users::insert(&mut tx, &row).await {
        Err(StoreError::Duplicate(_)) => {
            anyhow::bail!("an account with the e-mail {email} exists already")
        }
        other => other.context("cannot create the operator")?,
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(row.id)
}

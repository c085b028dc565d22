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
    users::insert(&mut tx, &user(demo::OPERATOR_EMAIL, "Olivia Operator", "operator", "en")).await?;
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
        if (i + 1) % 50 == 0 || i + 1 == total {
            writeln!(out, "  helpers {:>4}/{total}", i + 1)?;
        }
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(SeedOutcome::Created { helpers: total, customers: customers.len() })
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

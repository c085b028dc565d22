//! "Any helper nearby": a request is offered to the best few free helpers at once; the first to
//! accept wins atomically and the request becomes a booking with the same id; the others see
//! "already taken". Unanswered offers expire and the next candidates get the request; a request
//! nobody takes expires with a message to the customer.
//!
//! Invariant: of any number of simultaneous accepts, exactly one creates the booking (a
//! conditional update from `open`), and the database's overlap guard still has the last word on
//! the winner's time.

use jiff::Timestamp;
use quartier_booking::{Actor, Notice, Party, State as BookingState, Timer};
use quartier_domain::{GeoPoint, Locale, UserId};
use quartier_matching::search::Query as MatchQuery;
use quartier_notifications::BookingNoticeData;
use quartier_store::{StoreError, Tx, availability, bookings, requests, users};

use crate::error::{ApiError, ApiResult};
use crate::process;
use crate::state::{AppState, now_ms};

/// What a customer asks for.
pub struct Ask<'a> {
    /// The service.
    pub service: &'a quartier_pricing::Service,
    /// The locked quote.
    pub quote: &'a quartier_pricing::Quote,
    /// Where.
    pub address: &'a str,
    /// The place, for finding helpers.
    pub place: GeoPoint,
    /// When.
    pub start: Timestamp,
}

/// The best `n` helpers free at exactly the request's start, who were not offered it before.
fn candidates(
    app: &AppState,
    r: &requests::RequestRow,
    skill: &str,
    locale: Option<Locale>,
    exclude: &[String],
    n: usize,
    min_level: u8,
) -> Vec<UserId> {
    let Ok(place) = GeoPoint::new(r.lat, r.lon) else {
        return Vec::new();
    };
    let Ok(start) = Timestamp::from_millisecond(r.starts_at) else {
        return Vec::new();
    };
    let duration = u32::try_from(r.duration_minutes).unwrap_or(0);
    let Ok(to) = start.checked_add(process::minutes(duration)) else {
        return Vec::new();
    };
    let query = MatchQuery {
        place,
        skill: skill.to_owned(),
        from: start,
        to,
        duration_minutes: duration,
        max_distance_km: None,
        locale,
        limit: n + exclude.len(),
        now: Timestamp::now(),
        min_level,
    };
    app.matcher()
        .read(|i| i.search(&query))
        .into_iter()
        .filter(|m| m.earliest_start == start && !exclude.contains(&m.helper.to_string()))
        .take(n)
        .map(|m| m.helper)
        .collect()
}

async fn notify(
    tx: &mut Tx,
    app: &AppState,
    r: &requests::RequestRow,
    to: &users::UserRow,
    notice: Notice,
    customer_name: &str,
    helper_name: &str,
) -> ApiResult<()> {
    let data = BookingNoticeData {
        booking_id: r.id.clone(),
        service_name: r.service_name.clone(),
        starts_at: Timestamp::from_millisecond(r.starts_at).unwrap_or_default().to_string(),
        time_zone: to.time_zone.clone(),
        customer_name: customer_name.to_owned(),
        helper_name: helper_name.to_owned(),
        recipient_name: to.name.clone(),
        link: format!("{}/#/bookings/{}", app.config().public_url.trim_end_matches('/'), r.id),
        ends_at: None,
        location: None,
        action_link: if notice == Notice::Requested {
            let ttl = std::time::Duration::from_secs(u64::from(app.config().offer_ttl_minutes) * 60 + 60);
            Some(process::accept_link(app, &to.id, &r.id, ttl)?)
        } else {
            None
        },
    };
    process::deliver_notice(tx, to, notice, &data).await?;
    Ok(())
}

/// Offers the request to the next candidates; returns how many were offered it.
async fn offer_round(tx: &mut Tx, app: &AppState, r: &requests::RequestRow, round: i64, skill: &str) -> ApiResult<usize> {
    let customer = users::by_id(tx, &r.customer_id).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("customer vanished")))?;
    let exclude = requests::offered_helpers(tx, &r.id).await?;
    // Preview services are offered to super-helpers only.
    let min_level =
        if quartier_store::catalog::is_preview(tx, &r.service_slug).await? { crate::routes::matching::PREVIEW_LEVEL } else { 0 };
    let found = candidates(app, r, skill, customer.locale.parse().ok(), &exclude, app.config().broadcast_fanout as usize, min_level);
    let now = now_ms();
    let expires = now + i64::from(app.config().offer_ttl_minutes) * 60_000;
    for helper in &found {
        let helper_id = helper.to_string();
        requests::insert_offer(tx, &r.id, &helper_id, round, now, expires).await?;
        if let Some(h) = users::by_id(tx, &helper_id).await? {
            notify(tx, app, r, &h, Notice::Requested, &customer.name, &h.name).await?;
        }
    }
    Ok(found.len())
}

/// Creates a request and its first round of offers. No free helper nearby is 409
/// `no_helper_available`.
pub async fn create(app: &AppState, customer: &users::UserRow, ask: Ask<'_>) -> ApiResult<requests::RequestRow> {
    let now = now_ms();
    let id = UserId::new().to_string();
    let row = requests::RequestRow {
        id: id.clone(),
        customer_id: customer.id.clone(),
        service_slug: ask.service.slug.clone(),
        service_name: ask.service.name.clone(),
        address: ask.address.to_owned(),
        lat: ask.place.lat(),
        lon: ask.place.lon(),
        starts_at: ask.start.as_millisecond(),
        duration_minutes: i64::from(ask.quote.duration_minutes),
        extra_units: i64::from(ask.quote.extra_units),
        price_rappen: ask.quote.total.rappen(),
        time_zone: customer.time_zone.clone(),
        state: "open".into(),
        round: 1,
        winner_id: None,
        due_at: now + i64::from(app.config().offer_ttl_minutes) * 60_000,
        created_at: now,
        updated_at: now,
        quote: serde_json::to_string(ask.quote).map_err(ApiError::internal)?,
        policy_version: 0,
    };
    let mut tx = app.store().begin().await?;
    let mut row = row;
    row.policy_version = i64::from(crate::money::current_policy(&mut tx).await?.version);
    requests::insert(&mut tx, &row).await?;
    if offer_round(&mut tx, app, &row, 1, &ask.service.skill).await? == 0 {
        return Err(ApiError::conflict(
            "no_helper_available",
            "No helper nearby is free at that time. Try another start, or look at POST /v1/matches for free times.",
        ));
    }
    tx.commit().await.map_err(StoreError::from)?;
    app.wake_outbox();
    tracing::info!(request.id = %id, "request offered to helpers nearby");
    Ok(row)
}

/// A helper accepts an offer: the first wins and gets the booking; later ones get 409
/// `already_taken`.
pub async fn accept(app: &AppState, request_id: &str, helper: &str) -> ApiResult<bookings::BookingRow> {
    let now = now_ms();
    let mut tx = app.store().begin().await?;
    let r = requests::get(&mut tx, request_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    match requests::offer_state(&mut tx, request_id, helper).await?.as_deref() {
        Some("open") => {}
        None => return Err(ApiError::not_found("booking")),
        // Lost means another helper took it first (read in the same order as it was written, so a
        // request read a moment earlier as still open cannot hide that).
        Some("lost" | "accepted") => return Err(ApiError::conflict("already_taken", "Another helper took this request first.")),
        Some(_) if r.state == "taken" => return Err(ApiError::conflict("already_taken", "Another helper took this request first.")),
        Some(_) => return Err(ApiError::conflict("offer_closed", "This offer is no longer open.")),
    }
    if !requests::take(&mut tx, request_id, helper, now).await? {
        return Err(ApiError::conflict("already_taken", "Another helper took this request first."));
    }
    requests::answer_offer(&mut tx, request_id, helper, "accepted", now).await?;
    requests::close_offers(&mut tx, request_id, "lost", now).await?;
    let schedule = availability::schedule(&mut tx, helper).await?;
    let buffer = |m: Option<i64>| m.unwrap_or(i64::from(app.config().travel_buffer_minutes)) * 60_000;
    let (before, after) =
        (buffer(schedule.as_ref().map(|s| s.buffer_before_minutes)), buffer(schedule.as_ref().map(|s| s.buffer_after_minutes)));
    let ends = r.starts_at + r.duration_minutes * 60_000;
    let booking = bookings::BookingRow {
        id: r.id.clone(),
        customer_id: r.customer_id.clone(),
        helper_id: helper.to_owned(),
        service_slug: r.service_slug.clone(),
        service_name: r.service_name.clone(),
        address: r.address.clone(),
        starts_at: r.starts_at,
        ends_at: ends,
        blocked_from: r.starts_at - before,
        blocked_to: ends + after,
        time_zone: r.time_zone.clone(),
        state: BookingState::Accepted.as_str().into(),
        price_rappen: r.price_rappen,
        created_at: r.created_at,
        updated_at: now,
        extra_units: r.extra_units,
        start_code: process::visit_code(),
        signoff_code: process::visit_code(),
        pending_extra_units: None,
        pending_start: None,
        pending_by: None,
        failure_cause: None,
        quote: r.quote.clone(),
        policy_version: r.policy_version,
        payment_method: None,
        paid_at: None,
        completed_at: None,
    };
    bookings::lock_helper(&mut tx, app.store().backend(), helper).await?;
    bookings::insert(&mut tx, &booking).await?;
    for (at, actor, actor_id, action, from, to) in [
        (r.created_at, Actor::Customer, r.customer_id.clone(), "request", None, "offered"),
        (now, Actor::Helper, helper.to_owned(), "accept", Some("offered".to_owned()), "accepted"),
    ] {
        bookings::insert_event(
            &mut tx,
            &bookings::EventRow {
                id: UserId::new().to_string(),
                booking_id: booking.id.clone(),
                at,
                actor_id: Some(actor_id),
                actor_role: actor.as_str().into(),
                action: action.into(),
                from_state: from,
                to_state: to.into(),
                note: None,
            },
        )
        .await?;
    }
    process::set_timers(&mut tx, &booking, &[Timer::Reminder24h, Timer::Reminder1h], now, app).await?;
    process::queue_notices(&mut tx, app, &booking, &[(Party::Customer, Notice::Accepted), (Party::Helper, Notice::Accepted)]).await?;
    availability::record_change(&mut tx, helper, now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    app.refresh_helper(helper).await;
    app.wake_outbox();
    Ok(booking)
}

/// A helper turns an offer down; when nobody in the round is left, the next round starts at once.
pub async fn decline(app: &AppState, request_id: &str, helper: &str) -> ApiResult<requests::RequestRow> {
    let now = now_ms();
    let mut tx = app.store().begin().await?;
    let r = requests::get(&mut tx, request_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    if !requests::answer_offer(&mut tx, request_id, helper, "declined", now).await? {
        return Err(ApiError::conflict("offer_closed", "This offer is no longer open."));
    }
    if requests::open_offer_count(&mut tx, request_id).await? == 0 {
        requests::due_now(&mut tx, request_id, now).await?;
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(r)
}

/// The customer withdraws an open request.
pub async fn cancel(app: &AppState, request_id: &str) -> ApiResult<()> {
    let now = now_ms();
    let mut tx = app.store().begin().await?;
    if !requests::close(&mut tx, request_id, "cancelled", now).await? {
        return Err(ApiError::conflict("invalid_transition", "The request is no longer open."));
    }
    requests::close_offers(&mut tx, request_id, "expired", now).await?;
    tx.commit().await.map_err(StoreError::from)?;
    Ok(())
}

/// Moves requests whose round is over to the next candidates, or expires them. Returns how many
/// were handled.
pub async fn tick(app: &AppState) -> ApiResult<usize> {
    let store = app.store();
    let now = now_ms();
    let due = {
        let mut tx = store.begin().await?;
        let ids = requests::claim_due(&mut tx, store.backend(), now, now + 60_000, 20).await?;
        tx.commit().await.map_err(StoreError::from)?;
        ids
    };
    for id in &due {
        let mut tx = store.begin().await?;
        let Some(r) = requests::get(&mut tx, id).await? else {
            continue;
        };
        if r.state != "open" {
            continue;
        }
        requests::close_offers(&mut tx, id, "expired", now).await?;
        let skill = quartier_store::catalog::get(&mut tx, &r.service_slug).await?.map(|s| s.skill).unwrap_or_default();
        let next = r.round + 1;
        let offered = if next <= i64::from(app.config().broadcast_rounds) && r.starts_at > now {
            offer_round(&mut tx, app, &r, next, &skill).await?
        } else {
            0
        };
        if offered > 0 {
            requests::next_round(&mut tx, id, next, now + i64::from(app.config().offer_ttl_minutes) * 60_000, now).await?;
        } else {
            requests::close(&mut tx, id, "expired", now).await?;
            if let Some(c) = users::by_id(&mut tx, &r.customer_id).await? {
                notify(&mut tx, app, &r, &c, Notice::Expired, &c.name, "").await?;
            }
        }
        tx.commit().await.map_err(StoreError::from)?;
        app.wake_outbox();
    }
    Ok(due.len())
}

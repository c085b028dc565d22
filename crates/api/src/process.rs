//! Running the booking process: the one place where a transition is decided (by
//! `quartier_booking::step`) and committed with its effects. Every entry point goes through
//! [`apply`]: the API, operators acting on someone's behalf, timers, and links in e-mails.
//!
//! Invariant: a transition commits its state change, its timeline event, its outbox rows, its
//! timers and the match-index change record in one transaction, or nothing at all.

use jiff::{SignedDuration, Timestamp};
use quartier_booking::{Action, Actor, FAILURE_CAUSES, Facts, Notice, Party, State as BookingState, Timer};
use quartier_domain::UserId;
use quartier_notifications::BookingNoticeData;
use quartier_store::{StoreError, Tx, availability, bookings, catalog, outbox, timers, users};

use crate::error::{ApiError, ApiResult};
use crate::state::{AppState, now_ms};

/// What a transition request may carry besides its action.
#[derive(Debug, Clone, Default)]
pub struct Input {
    /// Why (kept in the timeline).
    pub reason: Option<String>,
    /// The start or sign-off code.
    pub code: Option<String>,
    /// A failure cause.
    pub cause: Option<String>,
    /// Extra 30-minute units for a change of scope.
    pub extra_units: Option<u32>,
    /// A proposed new start.
    pub start: Option<Timestamp>,
    /// The helper a booking is reassigned to (operators).
    pub helper_id: Option<String>,
}

/// Who acts: the role relative to the booking and, for people, their id.
#[derive(Debug, Clone)]
pub struct Who {
    /// The role in the process.
    pub actor: Actor,
    /// The person, if any.
    pub id: Option<String>,
}

/// Minutes after the start from which a party may report the other as a no-show.
pub const NO_SHOW_GRACE_MINUTES: i64 = 15;

/// A four-digit code for the visit's start or sign-off.
pub fn visit_code() -> String {
    use rand::Rng;
    format!("{:04}", rand::rng().random_range(0..10_000))
}

/// Applies `action` by `who` to the booking and commits. Returns the booking as it is afterwards.
pub async fn apply(app: &AppState, booking_id: &str, who: &Who, action: Action, input: &Input) -> ApiResult<bookings::BookingRow> {
    let mut tx = app.store().begin().await?;
    let b = bookings::get(&mut tx, booking_id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    let before = b.helper_id.clone();
    let updated = apply_in(app, &mut tx, b, who, action, input).await?;
    tx.commit().await.map_err(StoreError::from)?;
    if before != updated.helper_id {
        app.refresh_helper(&before).await;
    }
    app.refresh_helper(&updated.helper_id).await;
    app.wake_outbox();
    Ok(updated)
}

/// [`apply`] inside the caller's transaction (the caller commits, refreshes and wakes).
pub async fn apply_in(
    app: &AppState,
    tx: &mut Tx,
    b: bookings::BookingRow,
    who: &Who,
    action: Action,
    input: &Input,
) -> ApiResult<bookings::BookingRow> {
    let from: BookingState = b.state.parse().map_err(ApiError::internal)?;
    let now = now_ms();
    let other_proposed = b.pending_by.as_deref().is_some_and(|p| p != who.actor.as_str());
    let facts = Facts {
        start_code_ok: input.code.as_deref().is_some_and(|c| !b.start_code.is_empty() && c.trim() == b.start_code),
        signoff_code_ok: input.code.as_deref().is_some_and(|c| !b.signoff_code.is_empty() && c.trim() == b.signoff_code),
        change_pending: b.pending_extra_units.is_some(),
        reschedule_from_other: b.pending_start.is_some() && other_proposed,
        past_start_grace: now >= b.starts_at + NO_SHOW_GRACE_MINUTES * 60_000,
        failure_cause_ok: input.cause.as_deref().is_some_and(|c| FAILURE_CAUSES.contains(&c)),
    };
    let step = quartier_booking::step(from, action, who.actor, &facts).map_err(|e| match (&e, e.guard_code()) {
        (_, Some(code)) => ApiError::conflict(code, e.to_string()),
        (quartier_booking::BookingError::NotAllowed { .. }, _) => ApiError::forbidden(e.to_string()).with_code("not_allowed"),
        _ => ApiError::conflict("invalid_transition", e.to_string()),
    })?;

    let mut next = b.clone();
    next.state = step.to.as_str().to_owned();
    let mut note = input.reason.as_deref().map(str::trim).filter(|r| !r.is_empty()).map(str::to_owned);
    let mut rearm_reminders = false;
    match action {
        Action::ProposeChange => {
            let units = input.extra_units.filter(|u| (1..=quartier_pricing::MAX_EXTRA_UNITS).contains(u)).ok_or_else(|| {
                ApiError::invalid(
                    "invalid_extra_units",
                    format!("Propose 1 to {} extra 30-minute units.", quartier_pricing::MAX_EXTRA_UNITS),
                )
            })?;
            next.pending_extra_units = Some(i64::from(units));
            next.pending_by = Some(who.actor.as_str().to_owned());
            note = Some(format!("{units} extra 30-minute units proposed"));
        }
        Action::ApproveChange => {
            let units = next.pending_extra_units.take().unwrap_or(0);
            next.pending_by = None;
            let service =
                catalog::get(tx, &b.service_slug).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("service vanished")))?;
            let total_units = u32::try_from(b.extra_units + units).unwrap_or(u32::MAX);
            if total_units > quartier_pricing::MAX_EXTRA_UNITS {
                return Err(ApiError::invalid("too_many_extra_units", "A visit can have at most 8 extra 30-minute units."));
            }
            // The locked quote gains a line for exactly the approved units, with the customer's consent.
            let mut quote = crate::money::parse_quote(&b.quote)?;
            let amount =
                service.extra_unit_price.checked_mul(units).ok_or_else(|| ApiError::invalid("too_many_extra_units", "Too many units."))?;
            quote.lines.push(quartier_pricing::QuoteLine {
                kind: quartier_pricing::LineKind::ExtraUnits,
                label: format!("{units} extra 30-minute units agreed on site"),
                amount,
            });
            quote.extra_units = total_units;
            quote.extra = quote.extra.checked_add(amount).unwrap_or(quote.extra);
            quote.total = quote.total.checked_add(amount).unwrap_or(quote.total);
            quote.duration_minutes += u32::try_from(units * 30).unwrap_or(0);
            next.price_rappen = quote.total.rappen();
            next.extra_units = i64::from(total_units);
            next.quote = serde_json::to_string(&quote).map_err(ApiError::internal)?;
            let extra_ms = units * 30 * 60_000;
            next.ends_at += extra_ms;
            next.blocked_to += extra_ms;
            note = Some(format!("{units} extra 30-minute units approved"));
        }
        Action::RejectChange => {
            next.pending_extra_units = None;
            next.pending_by = None;
            note = Some("change of scope declined".into());
        }
        Action::Reschedule => {
            let start = input.start.ok_or_else(|| ApiError::invalid("start_required", "Give the proposed new `start`."))?;
            if start.as_millisecond() <= now {
                return Err(ApiError::invalid("start_too_soon", "The new start must be in the future."));
            }
            next.pending_start = Some(start.as_millisecond());
            next.pending_by = Some(who.actor.as_str().to_owned());
            note = Some(format!("new start proposed: {start}"));
        }
        Action::AcceptReschedule => {
            let start = next.pending_start.take().unwrap_or(b.starts_at);
            next.pending_by = None;
            let shift = start - b.starts_at;
            next.starts_at += shift;
            next.ends_at += shift;
            next.blocked_from += shift;
            next.blocked_to += shift;
            rearm_reminders = true;
            note = Some(format!("moved to {}", Timestamp::from_millisecond(start).unwrap_or_default()));
        }
        Action::DeclineReschedule => {
            next.pending_start = None;
            next.pending_by = None;
            note = Some("new start declined".into());
        }
        Action::ReportFailed => {
            next.failure_cause = input.cause.clone();
            note = Some(format!("cause: {}", input.cause.as_deref().unwrap_or("")));
        }
        Action::Reassign => {
            let to = input
                .helper_id
                .as_deref()
                .ok_or_else(|| ApiError::invalid("helper_id_required", "Give the `helper_id` of the helper who takes the visit over."))?;
            if to == b.helper_id {
                return Err(ApiError::invalid("same_helper", "The booking is already with this helper; choose another one."));
            }
            let is_helper = users::by_id(tx, to).await?.is_some_and(|u| u.role == "helper");
            if !is_helper || !quartier_store::vetting::is_approved(tx, to).await? {
                return Err(ApiError::conflict("helper_not_approved", "Only an approved helper can take a visit over."));
            }
            let service =
                catalog::get(tx, &b.service_slug).await?.ok_or_else(|| ApiError::internal(anyhow::anyhow!("service vanished")))?;
            let skilled = quartier_store::helpers::get(tx, to)
                .await?
                .is_some_and(|p| serde_json::from_str::<Vec<String>>(&p.skills).unwrap_or_default().contains(&service.skill));
            if !skilled {
                return Err(ApiError::conflict(
                    "helper_lacks_skill",
                    format!("That helper does not offer `{}`; choose one who does.", service.skill),
                ));
            }
            next.helper_id = to.to_owned();
        }
        _ => {}
    }
    if who.actor == Actor::Operator {
        // Operators act on behalf of others only with a reason, which both the timeline and the
        // audit log keep.
        let reason = input
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .ok_or_else(|| ApiError::invalid("reason_required", "Operators must give a `reason` when acting on a booking."))?;
        let operator = who.id.as_deref().unwrap_or("operator");
        let what = format!("booking.{}", action.as_str());
        let why = match action {
            Action::Reassign => format!("{reason} (from helper {} to {})", b.helper_id, next.helper_id),
            _ => reason.to_owned(),
        };
        quartier_store::vetting::audit(tx, &UserId::new().to_string(), operator, &what, &b.id, &why, now).await?;
        note = Some(reason.to_owned());
    }
    let mut timers_to_set: Vec<Timer> = step.timers.to_vec();
    if let Some(t) = ledger_effect(tx, &b, &mut next, action, step.to, now).await? {
        timers_to_set.push(t);
    }
    bookings::lock_helper(tx, app.store().backend(), &b.helper_id).await?;
    if next.helper_id != b.helper_id {
        bookings::lock_helper(tx, app.store().backend(), &next.helper_id).await?;
    }
    if !bookings::update_details(tx, &next, from.as_str(), now).await? {
        return Err(ApiError::conflict("invalid_transition", "The booking changed meanwhile; reload it and try again."));
    }
    bookings::insert_event(
        tx,
        &bookings::EventRow {
            id: UserId::new().to_string(),
            booking_id: b.id.clone(),
            at: now,
            actor_id: who.id.clone(),
            actor_role: who.actor.as_str().into(),
            action: action.as_str().into(),
            from_state: Some(from.as_str().into()),
            to_state: step.to.as_str().into(),
            note,
        },
    )
    .await?;
    if rearm_reminders {
        for t in [Timer::Reminder24h, Timer::Reminder1h] {
            timers::cancel_pending(tx, &b.id, t.as_str(), now).await?;
        }
    }
    set_timers(tx, &next, &timers_to_set, now, app).await?;
    if step.notify.is_empty() {
        // No mail for small steps (arrival, an answer to a change), but both apps hear of them.
        queue_notices(tx, app, &next, &[(Party::Customer, Notice::Updated), (Party::Helper, Notice::Updated)]).await?;
    } else {
        queue_notices(tx, app, &next, step.notify).await?;
    }
    availability::record_change(tx, &next.helper_id, now).await?;
    if matches!(
        step.to,
        BookingState::Done
            | BookingState::CancelledByCustomer
            | BookingState::CancelledByHelper
            | BookingState::CancelledByOperator
            | BookingState::NoShowCustomer
            | BookingState::NoShowHelper
            | BookingState::FailedVisit
    ) {
        // Levels follow every completed, cancelled or failed visit, in the same transaction.
        crate::reputation::refresh(tx, app, &next.helper_id).await?;
    }
    if next.helper_id != b.helper_id {
        // The helper who had the visit hears it is off their calendar.
        queue_notices(tx, app, &b, &[(Party::Helper, Notice::Cancelled)]).await?;
        availability::record_change(tx, &b.helper_id, now).await?;
    }
    Ok(next)
}

/// Stores the timers a step sets, at their due times (reminders only when still ahead).
pub async fn set_timers(tx: &mut Tx, b: &bookings::BookingRow, set: &[Timer], now: i64, app: &AppState) -> ApiResult<()> {
    for t in set {
        let due = match t {
            Timer::RequestExpiry => now + i64::from(app.config().request_ttl_minutes) * 60_000,
            Timer::Reminder24h => b.starts_at - 24 * 3_600_000,
            Timer::Reminder1h => b.starts_at - 3_600_000,
            Timer::PayoutRelease => {
                let policy = crate::money::current_policy(tx).await?;
                let policy = quartier_store::ledger::policy(tx, b.policy_version).await?.unwrap_or(policy);
                b.completed_at.unwrap_or(now) + policy.dispute_window().as_millis() as i64
            }
        };
        if due > now || matches!(t, Timer::RequestExpiry | Timer::PayoutRelease) {
            timers::insert(tx, &UserId::new().to_string(), &b.id, t.as_str(), due, now).await?;
        }
    }
    Ok(())
}

/// Queues one e-mail per notice, inside the caller's transaction.
pub async fn queue_notices(tx: &mut Tx, app: &AppState, booking: &bookings::BookingRow, notices: &[(Party, Notice)]) -> ApiResult<()> {
    if notices.is_empty() {
        return Ok(());
    }
    let customer = users::by_id(tx, &booking.customer_id).await?;
    let helper = users::by_id(tx, &booking.helper_id).await?;
    let (Some(customer), Some(helper)) = (customer, helper) else {
        return Err(ApiError::internal(anyhow::anyhow!("booking {} refers to a missing user", booking.id)));
    };
    for (party, notice) in notices {
        let to = match party {
            Party::Customer => &customer,
            Party::Helper => &helper,
        };
        // The calendar file goes with confirmations; the helper's carries the address, which is
        // theirs to see once they accepted.
        let with_calendar = matches!(notice, Notice::Accepted | Notice::Rescheduled);
        let data = BookingNoticeData {
            booking_id: booking.id.clone(),
            service_name: booking.service_name.clone(),
            starts_at: Timestamp::from_millisecond(booking.starts_at).unwrap_or_default().to_string(),
            time_zone: to.time_zone.clone(),
            customer_name: customer.name.clone(),
            helper_name: helper.name.clone(),
            recipient_name: to.name.clone(),
            link: format!("{}/#/bookings/{}", app.config().public_url.trim_end_matches('/'), booking.id),
            ends_at: with_calendar.then(|| Timestamp::from_millisecond(booking.ends_at).unwrap_or_default().to_string()),
            location: with_calendar.then(|| booking.address.clone()),
            action_link: if *notice == Notice::Requested && *party == Party::Helper {
                let ttl = std::time::Duration::from_secs(u64::from(app.config().request_ttl_minutes) * 60 + 3600);
                Some(accept_link(app, &to.id, &booking.id, ttl)?)
            } else {
                None
            },
        };
        deliver_notice(tx, to, *notice, &data).await?;
    }
    Ok(())
}

/// A signed link with which `user` accepts `booking` from the e-mail, valid for `ttl`.
pub fn accept_link(app: &AppState, user: &str, booking: &str, ttl: std::time::Duration) -> ApiResult<String> {
    let token = app.tokens().sign_link(user, booking, "accept", ttl)?;
    Ok(format!("{}/v1/links/{token}", app.config().public_url.trim_end_matches('/')))
}

/// Writes one notice for one person: an e-mail into the outbox and an entry in their in-app feed
/// (which the live stream pushes), both in the caller's transaction.
pub async fn deliver_notice(tx: &mut Tx, to: &users::UserRow, notice: Notice, data: &BookingNoticeData) -> ApiResult<()> {
    let now = now_ms();
    if notice.emails() {
        queue_mail(tx, to, notice.as_str(), data, now).await?;
    }
    let words = quartier_notifications::render(notice, to.locale.parse().unwrap_or_default(), data);
    let body = words.text.lines().skip(2).take_while(|l| !l.is_empty()).collect::<Vec<_>>().join(" ");
    quartier_store::feed::insert(tx, &to.id, notice.as_str(), Some(&data.booking_id), &words.subject, &body, now).await?;
    Ok(())
}

/// Queues one e-mail for `to` in the caller's transaction: the outbox row carries the template
/// name and everything it needs (`payload`), so every retry sends the same words.
pub async fn queue_mail(tx: &mut Tx, to: &users::UserRow, template: &str, payload: &impl serde::Serialize, now: i64) -> ApiResult<()> {
    outbox::insert(
        tx,
        &outbox::OutboxRow {
            id: UserId::new().to_string(),
            channel: "email".into(),
            template: template.into(),
            recipient_id: Some(to.id.clone()),
            recipient_email: to.email.clone(),
            recipient_name: to.name.clone(),
            locale: to.locale.clone(),
            payload: serde_json::to_string(payload).map_err(ApiError::internal)?,
            state: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            created_at: now,
        },
    )
    .await?;
    Ok(())
}

/// Runs due timers until `stop` turns true: each is claimed with a lease, acts only if its booking
/// has not moved on, and is closed in the same transaction as its effects.
pub async fn run_timers(app: AppState, poll: std::time::Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        match tick_timers(&app).await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = format!("{e:?}"), "timers: tick failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
        if *stop.borrow() {
            return;
        }
    }
}

/// Claims and runs one batch of due timers; returns how many were claimed.
pub async fn tick_timers(app: &AppState) -> ApiResult<usize> {
    let rounds = crate::broadcast::tick(app).await?;
    let store = app.store();
    let now = now_ms();
    let claimed = {
        let mut tx = store.begin().await?;
        let rows = timers::claim(&mut tx, store.backend(), now, now + 60_000, 20).await?;
        tx.commit().await.map_err(StoreError::from)?;
        rows
    };
    let n = claimed.len() + rounds;
    for t in claimed {
        if let Err(e) = run_timer(app, &t).await {
            tracing::warn!(timer.id = %t.id, error = e.code(), "timer failed; will retry");
            let mut conn = store.pool().acquire().await.map_err(StoreError::from)?;
            timers::retry(&mut conn, &t.id, now_ms() + 30_000, e.code()).await?;
        }
    }
    Ok(n)
}

async fn run_timer(app: &AppState, t: &timers::TimerRow) -> ApiResult<()> {
    let kind: Timer = t.kind.parse().map_err(ApiError::internal)?;
    let mut tx = app.store().begin().await?;
    let Some(b) = bookings::get(&mut tx, &t.booking_id).await? else {
        timers::finish(&mut tx, &t.id, "skipped", now_ms()).await?;
        tx.commit().await.map_err(StoreError::from)?;
        return Ok(());
    };
    let state: BookingState = b.state.parse().map_err(ApiError::internal)?;
    let outcome = if !kind.applies_in(state) {
        "skipped"
    } else {
        match kind {
            Timer::RequestExpiry => {
                let who = Who { actor: Actor::System, id: None };
                apply_in(app, &mut tx, b.clone(), &who, Action::Expire, &Input::default()).await?;
            }
            Timer::Reminder24h => {
                queue_notices(&mut tx, app, &b, &[(Party::Customer, Notice::Reminder24h), (Party::Helper, Notice::Reminder24h)]).await?
            }
            Timer::Reminder1h => {
                queue_notices(&mut tx, app, &b, &[(Party::Customer, Notice::Reminder1h), (Party::Helper, Notice::Reminder1h)]).await?
            }
            Timer::PayoutRelease => {
                let balances = crate::money::balances(&mut tx, &b.id).await?;
                let policy =
                    quartier_store::ledger::policy(&mut tx, b.policy_version).await?.unwrap_or_else(quartier_pricing::default_policy);
                let completed = Timestamp::from_millisecond(b.completed_at.unwrap_or(b.ends_at)).unwrap_or_default();
                // An open dispute holds the payout; the operator's decision releases it.
                let disputed = quartier_store::disputes::is_open_for(&mut tx, &b.id).await?;
                if balances.held_for_helper() > 0 && !disputed {
                    let t = quartier_pricing::ledger::release_payout(&balances, completed, Timestamp::now(), policy.dispute_window())
                        .map_err(crate::money::ledger_error)?;
                    crate::money::post(&mut tx, &b.id, &b.helper_id, &t).await?;
                }
            }
        }
        "done"
    };
    if !timers::finish(&mut tx, &t.id, outcome, now_ms()).await? {
        // Another worker took over after our lease ran out and closed it: do nothing twice.
        return Ok(());
    }
    tx.commit().await.map_err(StoreError::from)?;
    if outcome == "done" {
        app.refresh_helper(&b.helper_id).await;
        app.wake_outbox();
    }
    Ok(())
}

/// Milliseconds of a duration in minutes (for callers computing ends).
pub fn minutes(m: u32) -> SignedDuration {
    SignedDuration::from_mins(i64::from(m))
}

/// The money a step moves, as the booking's pinned policy says: completion charges the locked
/// quote (the helper's part held until the dispute window closes, which the returned timer
/// marks); a late customer cancellation and a customer no-show charge the policy's fee; a helper
/// no-show costs the helper the policy's penalty.
async fn ledger_effect(
    tx: &mut Tx,
    b: &bookings::BookingRow,
    next: &mut bookings::BookingRow,
    action: Action,
    to: BookingState,
    now: i64,
) -> ApiResult<Option<Timer>> {
    use quartier_pricing::ledger;
    let policy = match quartier_store::ledger::policy(tx, b.policy_version).await? {
        Some(p) => p,
        None => crate::money::current_policy(tx).await?,
    };
    let total = quartier_domain::Money::from_rappen(next.price_rappen)?;
    let start = Timestamp::from_millisecond(b.starts_at).unwrap_or_default();
    let at = Timestamp::from_millisecond(now).unwrap_or_default();
    let fee_error = |e: quartier_pricing::PolicyError| ApiError::internal(anyhow::anyhow!("policy {}: {e}", policy.version));
    let t = match (action, to) {
        (Action::Complete, BookingState::Done) => {
            next.completed_at = Some(now);
            let quote = crate::money::parse_quote(&next.quote)?;
            let t = ledger::booking_completed(&quote).map_err(crate::money::ledger_error)?;
            crate::money::post(tx, &b.id, &b.helper_id, &t).await?;
            return Ok(Some(Timer::PayoutRelease));
        }
        (Action::Cancel, BookingState::CancelledByCustomer) => {
            let outcome = policy.cancellation_fee(total, start, at).map_err(fee_error)?;
            if outcome.fee == quartier_domain::Money::ZERO {
                return Ok(None);
            }
            ledger::cancellation_fee(&outcome)
        }
        (Action::MarkNoShow, BookingState::NoShowCustomer) => ledger::customer_no_show(&policy.customer_no_show(total).map_err(fee_error)?),
        (Action::MarkNoShow, BookingState::NoShowHelper) => {
            let balances = crate::money::balances(tx, &b.id).await?;
            let paid = quartier_domain::Money::from_rappen(balances.charged().max(0)).unwrap_or(quartier_domain::Money::ZERO);
            ledger::helper_no_show(&balances, &policy.helper_no_show(paid).map_err(fee_error)?)
        }
        _ => return Ok(None),
    };
    let t = t.map_err(crate::money::ledger_error)?;
    crate::money::post(tx, &b.id, &b.helper_id, &t).await?;
    Ok(None)
}

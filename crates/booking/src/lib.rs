//! The booking process as data: one table of states and transitions, and one function, [`step`],
//! that every entry point (API, operator console, timers, e-mail links) goes through.
//!
//! Invariant: a booking only ever changes state along a row of [`TRANSITIONS`], by an actor that
//! row names; everything a transition causes (notices to the parties) is listed in that row, so
//! the caller can commit the state change and its effects in one transaction.
//! This crate knows neither HTTP nor SQL.

use std::fmt;
use std::str::FromStr;

/// Where a booking is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// The customer asked a chosen helper; the helper has not answered.
    Requested,
    /// The helper said yes; the visit is planned.
    Accepted,
    /// The helper confirmed the visit (asked 24 hours before).
    Confirmed,
    /// The helper is on the way.
    EnRoute,
    /// The helper arrived and the customer gave the start code.
    OnSite,
    /// The job is done and the customer signed it off.
    Done,
    /// The helper said no.
    Declined,
    /// Nobody answered in time.
    Expired,
    /// The customer called it off.
    CancelledByCustomer,
    /// The helper called it off.
    CancelledByHelper,
    /// An operator called it off on someone's behalf.
    CancelledByOperator,
    /// The customer was not there.
    NoShowCustomer,
    /// The helper did not come.
    NoShowHelper,
    /// The visit took place but the job could not be done (see the cause).
    FailedVisit,
}

impl State {
    /// Every state, for exhaustive checks.
    pub const ALL: [State; 14] = [
        State::Requested,
        State::Accepted,
        State::Confirmed,
        State::EnRoute,
        State::OnSite,
        State::Done,
        State::Declined,
        State::Expired,
        State::CancelledByCustomer,
        State::CancelledByHelper,
        State::CancelledByOperator,
        State::NoShowCustomer,
        State::NoShowHelper,
        State::FailedVisit,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Accepted => "accepted",
            State::Confirmed => "confirmed",
            State::EnRoute => "en_route",
            State::OnSite => "on_site",
            State::Done => "done",
            State::Declined => "declined",
            State::Expired => "expired",
            State::CancelledByCustomer => "cancelled_by_customer",
            State::CancelledByHelper => "cancelled_by_helper",
            State::CancelledByOperator => "cancelled_by_operator",
            State::NoShowCustomer => "no_show_customer",
            State::NoShowHelper => "no_show_helper",
            State::FailedVisit => "failed_visit",
        }
    }

    /// Whether a booking in this state holds the helper's time (counts as busy for overlap).
    pub fn holds_time(self) -> bool {
        matches!(self, State::Requested | State::Accepted | State::Confirmed | State::EnRoute | State::OnSite)
    }

    /// Whether the helper has accepted and the visit has not ended: the customer's address is
    /// theirs to see.
    pub fn address_revealed(self) -> bool {
        matches!(self, State::Accepted | State::Confirmed | State::EnRoute | State::OnSite | State::Done | State::FailedVisit)
    }

    /// Whether nothing more can happen in the process.
    pub fn is_final(self) -> bool {
        !TRANSITIONS.iter().any(|t| t.from.contains(&self))
    }

    /// The states that hold a helper's time, as stored names (for the database's overlap guard).
    pub fn time_holding_names() -> Vec<&'static str> {
        Self::ALL.iter().filter(|s| s.holds_time()).map(|s| s.as_str()).collect()
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for State {
    type Err = BookingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        State::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| BookingError::UnknownState(s.chars().take(40).collect()))
    }
}

/// What someone asks to do with a booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// The helper takes the job.
    Accept,
    /// The helper turns it down.
    Decline,
    /// A party (or an operator) calls it off.
    Cancel,
    /// The helper confirms the visit.
    Confirm,
    /// The helper sets off.
    EnRoute,
    /// The helper arrives; needs the customer's start code.
    Arrive,
    /// The helper proposes more time on site (extra 30-minute units).
    ProposeChange,
    /// The customer approves the proposed change.
    ApproveChange,
    /// The customer turns the proposed change down.
    RejectChange,
    /// The helper reports the job done; needs the customer's sign-off code.
    Complete,
    /// The helper reports a visit that could not be completed, with a cause.
    ReportFailed,
    /// A party reports the other did not turn up.
    MarkNoShow,
    /// A party proposes another start.
    Reschedule,
    /// The other party agrees to the proposed start.
    AcceptReschedule,
    /// The other party declines the proposed start (the booking stays as it was).
    DeclineReschedule,
    /// An operator gives the visit to another helper (with `helper_id` and a reason).
    Reassign,
    /// Time ran out (timers only).
    Expire,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 17] = [
        Action::Accept,
        Action::Decline,
        Action::Cancel,
        Action::Confirm,
        Action::EnRoute,
        Action::Arrive,
        Action::ProposeChange,
        Action::ApproveChange,
        Action::RejectChange,
        Action::Complete,
        Action::ReportFailed,
        Action::MarkNoShow,
        Action::Reschedule,
        Action::AcceptReschedule,
        Action::DeclineReschedule,
        Action::Reassign,
        Action::Expire,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Decline => "decline",
            Action::Cancel => "cancel",
            Action::Confirm => "confirm",
            Action::EnRoute => "en_route",
            Action::Arrive => "arrive",
            Action::ProposeChange => "propose_change",
            Action::ApproveChange => "approve_change",
            Action::RejectChange => "reject_change",
            Action::Complete => "complete",
            Action::ReportFailed => "report_failed",
            Action::MarkNoShow => "mark_no_show",
            Action::Reschedule => "reschedule",
            Action::AcceptReschedule => "accept_reschedule",
            Action::DeclineReschedule => "decline_reschedule",
            Action::Reassign => "reassign",
            Action::Expire => "expire",
        }
    }
}

impl FromStr for Action {
    type Err = BookingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
            .filter(|a| *a != Action::Expire)
            .find(|a| a.as_str() == s)
            .ok_or_else(|| BookingError::UnknownAction(s.chars().take(40).collect()))
    }
}

/// Who acts, relative to the booking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Actor {
    /// The customer who booked.
    Customer,
    /// The helper the booking is with.
    Helper,
    /// An operator acting on someone's behalf.
    Operator,
    /// A timer.
    System,
}

impl Actor {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Customer => "customer",
            Actor::Helper => "helper",
            Actor::Operator => "operator",
            Actor::System => "system",
        }
    }
}

/// A party to be told about a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Party {
    /// The customer.
    Customer,
    /// The helper.
    Helper,
}

/// What a notice is about; the notifications crate turns it into words in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Notice {
    /// A new request for the helper.
    Requested,
    /// The helper accepted.
    Accepted,
    /// The helper declined.
    Declined,
    /// The booking was cancelled.
    Cancelled,
    /// The job is done.
    Completed,
    /// Nobody took the request in time.
    Expired,
    /// The helper confirmed the visit.
    Confirmed,
    /// The helper is on the way.
    OnTheWay,
    /// The helper asks for more time on site.
    ChangeProposed,
    /// A party proposes another start.
    RescheduleProposed,
    /// The visit moved to another start.
    Rescheduled,
    /// The visit could not be completed.
    Failed,
    /// Someone did not turn up.
    NoShow,
    /// The visit is tomorrow.
    Reminder24h,
    /// The visit is in an hour.
    Reminder1h,
    /// An operator gave the visit to another helper.
    Reassigned,
    /// A party opened a dispute about the visit.
    DisputeOpened,
    /// An operator decided the dispute.
    DisputeResolved,
    /// Something else changed (in the app only: no e-mail).
    Updated,
    /// A new message in the booking (in the app only: no e-mail).
    NewMessage,
}

impl Notice {
    /// Every notice.
    pub const ALL: [Notice; 20] = [
        Notice::Requested,
        Notice::Accepted,
        Notice::Declined,
        Notice::Cancelled,
        Notice::Completed,
        Notice::Expired,
        Notice::Confirmed,
        Notice::OnTheWay,
        Notice::ChangeProposed,
        Notice::RescheduleProposed,
        Notice::Rescheduled,
        Notice::Failed,
        Notice::NoShow,
        Notice::Reminder24h,
        Notice::Reminder1h,
        Notice::Reassigned,
        Notice::DisputeOpened,
        Notice::DisputeResolved,
        Notice::Updated,
        Notice::NewMessage,
    ];

    /// Whether the notice also goes out by e-mail (the small in-visit updates only reach the app).
    pub fn emails(self) -> bool {
        !matches!(self, Notice::Updated | Notice::NewMessage)
    }

    /// The stored name (the template key).
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Requested => "booking_requested",
            Notice::Accepted => "booking_accepted",
            Notice::Declined => "booking_declined",
            Notice::Cancelled => "booking_cancelled",
            Notice::Completed => "booking_completed",
            Notice::Expired => "booking_expired",
            Notice::Confirmed => "booking_confirmed",
            Notice::OnTheWay => "booking_on_the_way",
            Notice::ChangeProposed => "booking_change_proposed",
            Notice::RescheduleProposed => "booking_reschedule_proposed",
            Notice::Rescheduled => "booking_rescheduled",
            Notice::Failed => "booking_failed",
            Notice::NoShow => "booking_no_show",
            Notice::Reminder24h => "booking_reminder_24h",
            Notice::Reminder1h => "booking_reminder_1h",
            Notice::Reassigned => "booking_reassigned",
            Notice::DisputeOpened => "dispute_opened",
            Notice::DisputeResolved => "dispute_resolved",
            Notice::Updated => "booking_updated",
            Notice::NewMessage => "message",
        }
    }
}

impl FromStr for Notice {
    type Err = BookingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Notice::ALL.into_iter().find(|n| n.as_str() == s).ok_or_else(|| BookingError::UnknownAction(s.chars().take(40).collect()))
    }
}

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Always this state.
    To(State),
    /// The state stays as it is (a proposal, an approval).
    Same,
    /// A cancellation, recorded by who cancelled.
    CancelledBy,
    /// A no-show, recorded by who did not come (the other party than the reporter).
    NoShowOfOther,
}

/// A condition a transition needs beyond state and actor; the caller checks it against the
/// booking and the request, and [`step`] refuses the transition when it does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Nothing more.
    None,
    /// The request carries the customer's start code.
    StartCode,
    /// The request carries the customer's sign-off code (an operator is exempt).
    SignOffCode,
    /// A change of scope is pending.
    ChangePending,
    /// A reschedule proposed by the other party is pending.
    ReschedulePendingFromOther,
    /// The start time has passed by the no-show grace period.
    PastStartGrace,
    /// The request carries a failure cause.
    FailureCause,
}

/// A timer a transition sets (the caller stores it with its due time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
    /// Expire an unanswered request.
    RequestExpiry,
    /// Remind both parties 24 hours before (and ask the helper to confirm).
    Reminder24h,
    /// Remind both parties 1 hour before.
    Reminder1h,
    /// Release the helper's payout when the dispute window after completion closes.
    PayoutRelease,
}

impl Timer {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Timer::RequestExpiry => "request_expiry",
            Timer::Reminder24h => "reminder_24h",
            Timer::Reminder1h => "reminder_1h",
            Timer::PayoutRelease => "payout_release",
        }
    }

    /// The state a booking must still be in for the timer to act ("never for a booking that has
    /// moved on").
    pub fn applies_in(self, state: State) -> bool {
        match self {
            Timer::RequestExpiry => state == State::Requested,
            Timer::Reminder24h | Timer::Reminder1h => matches!(state, State::Accepted | State::Confirmed),
            Timer::PayoutRelease => state == State::Done,
        }
    }
}

impl FromStr for Timer {
    type Err = BookingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Timer::RequestExpiry, Timer::Reminder24h, Timer::Reminder1h, Timer::PayoutRelease]
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| BookingError::UnknownAction(s.chars().take(40).collect()))
    }
}

/// One row of the process table.
#[derive(Debug, Clone, Copy)]
pub struct Transition {
    /// The states it starts from.
    pub from: &'static [State],
    /// The action that triggers it.
    pub action: Action,
    /// Who may trigger it.
    pub actors: &'static [Actor],
    /// What else must hold.
    pub guard: Guard,
    /// The state it leads to.
    pub target: Target,
    /// Who is told, and about what.
    pub notify: &'static [(Party, Notice)],
    /// Timers it sets.
    pub timers: &'static [Timer],
}

use Actor as A;
use Party as P;
use State as S;

const BOTH: &[Actor] = &[A::Customer, A::Helper];
const PLANNED: &[State] = &[S::Accepted, S::Confirmed];
const OPEN: &[State] = &[S::Requested, S::Accepted, S::Confirmed];

/// The whole process. Rows are matched on action and current state; the first match wins.
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        from: &[S::Requested],
        action: Action::Accept,
        actors: &[A::Helper],
        guard: Guard::None,
        target: Target::To(S::Accepted),
        notify: &[(P::Customer, Notice::Accepted), (P::Helper, Notice::Accepted)],
        timers: &[Timer::Reminder24h, Timer::Reminder1h],
    },
    Transition {
        from: &[S::Requested],
        action: Action::Decline,
        actors: &[A::Helper],
        guard: Guard::None,
        target: Target::To(S::Declined),
        notify: &[(P::Customer, Notice::Declined)],
        timers: &[],
    },
    Transition {
        from: &[S::Requested],
        action: Action::Expire,
        actors: &[A::System],
        guard: Guard::None,
        target: Target::To(S::Expired),
        notify: &[(P::Customer, Notice::Expired)],
        timers: &[],
    },
    Transition {
        from: OPEN,
        action: Action::Cancel,
        actors: &[A::Customer, A::Helper, A::Operator],
        guard: Guard::None,
        target: Target::CancelledBy,
        notify: &[(P::Customer, Notice::Cancelled), (P::Helper, Notice::Cancelled)],
        timers: &[],
    },
    Transition {
        from: &[S::Accepted],
        action: Action::Confirm,
        actors: &[A::Helper],
        guard: Guard::None,
        target: Target::To(S::Confirmed),
        notify: &[(P::Customer, Notice::Confirmed)],
        timers: &[],
    },
    Transition {
        from: PLANNED,
        action: Action::EnRoute,
        actors: &[A::Helper],
        guard: Guard::None,
        target: Target::To(S::EnRoute),
        notify: &[(P::Customer, Notice::OnTheWay)],
        timers: &[],
    },
    Transition {
        from: &[S::Accepted, S::Confirmed, S::EnRoute],
        action: Action::Arrive,
        actors: &[A::Helper],
        guard: Guard::StartCode,
        target: Target::To(S::OnSite),
        notify: &[],
        timers: &[],
    },
    Transition {
        from: &[S::OnSite],
        action: Action::ProposeChange,
        actors: &[A::Helper],
        guard: Guard::None,
        target: Target::Same,
        notify: &[(P::Customer, Notice::ChangeProposed)],
        timers: &[],
    },
    Transition {
        from: &[S::OnSite],
        action: Action::ApproveChange,
        actors: &[A::Customer],
        guard: Guard::ChangePending,
        target: Target::Same,
        notify: &[],
        timers: &[],
    },
    Transition {
        from: &[S::OnSite],
        action: Action::RejectChange,
        actors: &[A::Customer],
        guard: Guard::ChangePending,
        target: Target::Same,
        notify: &[],
        timers: &[],
    },
    Transition {
        from: &[S::OnSite],
        action: Action::Complete,
        actors: &[A::Helper, A::Operator],
        guard: Guard::SignOffCode,
        target: Target::To(S::Done),
        notify: &[(P::Customer, Notice::Completed), (P::Helper, Notice::Completed)],
        timers: &[],
    },
    Transition {
        from: &[S::EnRoute, S::OnSite],
        action: Action::ReportFailed,
        actors: &[A::Helper, A::Operator],
        guard: Guard::FailureCause,
        target: Target::To(S::FailedVisit),
        notify: &[(P::Customer, Notice::Failed), (P::Helper, Notice::Failed)],
        timers: &[],
    },
    Transition {
        from: &[S::Accepted, S::Confirmed, S::EnRoute, S::OnSite],
        action: Action::MarkNoShow,
        actors: BOTH,
        guard: Guard::PastStartGrace,
        target: Target::NoShowOfOther,
        notify: &[(P::Customer, Notice::NoShow), (P::Helper, Notice::NoShow)],
        timers: &[],
    },
    Transition {
        from: PLANNED,
        action: Action::Reschedule,
        actors: BOTH,
        guard: Guard::None,
        target: Target::Same,
        notify: &[(P::Customer, Notice::RescheduleProposed), (P::Helper, Notice::RescheduleProposed)],
        timers: &[],
    },
    Transition {
        from: PLANNED,
        action: Action::AcceptReschedule,
        actors: BOTH,
        guard: Guard::ReschedulePendingFromOther,
        target: Target::To(S::Accepted),
        notify: &[(P::Customer, Notice::Rescheduled), (P::Helper, Notice::Rescheduled)],
        timers: &[Timer::Reminder24h, Timer::Reminder1h],
    },
    Transition {
        from: PLANNED,
        action: Action::DeclineReschedule,
        actors: BOTH,
        guard: Guard::ReschedulePendingFromOther,
        target: Target::Same,
        notify: &[],
        timers: &[],
    },
    Transition {
        // The old helper is told `Cancelled` by the executor, which knows who they were.
        from: OPEN,
        action: Action::Reassign,
        actors: &[A::Operator],
        guard: Guard::None,
        target: Target::To(S::Accepted),
        notify: &[(P::Customer, Notice::Reassigned), (P::Helper, Notice::Accepted)],
        timers: &[Timer::Reminder24h, Timer::Reminder1h],
    },
];

/// The notices a brand-new request to a chosen helper causes.
pub const ON_REQUEST: &[(Party, Notice)] = &[(P::Helper, Notice::Requested)];

/// Failure causes a helper can report.
pub const FAILURE_CAUSES: &[&str] = &["line_not_active", "device_faulty", "material_missing", "customer_not_there", "other"];

/// Why a transition or a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BookingError {
    /// The action is not possible in the booking's current state.
    #[error("`{action}` is not possible while the booking is {state}")]
    InvalidTransition {
        /// Current state.
        state: &'static str,
        /// Requested action.
        action: &'static str,
    },
    /// The actor may see the booking but not do this.
    #[error("only {allowed} may {action} this booking")]
    NotAllowed {
        /// Who may.
        allowed: String,
        /// Requested action.
        action: &'static str,
    },
    /// A guard did not hold.
    #[error("{0}")]
    GuardFailed(&'static str),
    /// An action name that does not exist.
    #[error("`{0}` is not an action; see the API documentation for the list")]
    UnknownAction(String),
    /// A stored state name that does not exist (a corrupt row).
    #[error("unknown booking state `{0}`")]
    UnknownState(String),
}

impl BookingError {
    /// The stable code for a refused guard.
    pub fn guard_code(&self) -> Option<&'static str> {
        match self {
            BookingError::GuardFailed(msg) => Some(match *msg {
                m if m.starts_with("the start code") => "wrong_start_code",
                m if m.starts_with("the sign-off code") => "wrong_signoff_code",
                m if m.starts_with("no change") => "no_change_pending",
                m if m.starts_with("no new start") => "no_reschedule_pending",
                m if m.starts_with("too early") => "too_early_for_no_show",
                _ => "invalid_failure_cause",
            }),
            _ => None,
        }
    }
}

/// What the caller knows about the guards' conditions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Facts {
    /// The request's start code equals the booking's.
    pub start_code_ok: bool,
    /// The request's sign-off code equals the booking's.
    pub signoff_code_ok: bool,
    /// A scope change is pending.
    pub change_pending: bool,
    /// A reschedule proposed by the other party is pending.
    pub reschedule_from_other: bool,
    /// Now is past the start plus the no-show grace period.
    pub past_start_grace: bool,
    /// The request names a known failure cause.
    pub failure_cause_ok: bool,
}

/// The outcome of a permitted transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The new state.
    pub to: State,
    /// Who must be told, and about what.
    pub notify: &'static [(Party, Notice)],
    /// Timers to set.
    pub timers: &'static [Timer],
}

fn guard_holds(guard: Guard, actor: Actor, f: &Facts) -> Result<(), BookingError> {
    let ok = match guard {
        Guard::None => true,
        Guard::StartCode => f.start_code_ok,
        Guard::SignOffCode => actor == Actor::Operator || f.signoff_code_ok,
        Guard::ChangePending => f.change_pending,
        Guard::ReschedulePendingFromOther => f.reschedule_from_other,
        Guard::PastStartGrace => f.past_start_grace,
        Guard::FailureCause => f.failure_cause_ok,
    };
    if ok {
        return Ok(());
    }
    Err(BookingError::GuardFailed(match guard {
        Guard::StartCode => "the start code is wrong: ask the customer for the code shown in their booking",
        Guard::SignOffCode => "the sign-off code is wrong: the customer confirms completion by entering their sign-off code",
        Guard::ChangePending => "no change of scope is waiting for approval",
        Guard::ReschedulePendingFromOther => "no new start proposed by the other party is waiting",
        Guard::PastStartGrace => "too early to report a no-show: wait until after the start time",
        _ => "the failure cause is missing or unknown",
    }))
}

/// Decides a transition: the one function every entry point uses.
pub fn step(state: State, action: Action, actor: Actor, facts: &Facts) -> Result<Step, BookingError> {
    let row = TRANSITIONS
        .iter()
        .find(|t| t.action == action && t.from.contains(&state))
        .ok_or(BookingError::InvalidTransition { state: state.as_str(), action: action.as_str() })?;
    if !row.actors.contains(&actor) {
        let allowed = row.actors.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" or ");
        return Err(BookingError::NotAllowed { allowed: format!("the {allowed}"), action: action.as_str() });
    }
    guard_holds(row.guard, actor, facts)?;
    let to = match row.target {
        Target::To(s) => s,
        Target::Same => state,
        Target::CancelledBy => match actor {
            Actor::Customer => State::CancelledByCustomer,
            Actor::Helper => State::CancelledByHelper,
            Actor::Operator | Actor::System => State::CancelledByOperator,
        },
        Target::NoShowOfOther => match actor {
            Actor::Helper => State::NoShowCustomer,
            _ => State::NoShowHelper,
        },
    };
    Ok(Step { to, notify: row.notify, timers: row.timers })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_accepts_a_request() {
        let s = step(State::Requested, Action::Accept, Actor::Helper, &Facts::default()).expect("allowed");
        assert_eq!(s.to, State::Accepted);
        assert!(s.notify.contains(&(Party::Customer, Notice::Accepted)));
    }

    #[test]
    fn a_customer_cannot_accept_for_the_helper() {
        assert!(matches!(step(State::Requested, Action::Accept, Actor::Customer, &Facts::default()), Err(BookingError::NotAllowed { .. })));
    }

    #[test]
    fn a_done_booking_cannot_be_accepted_again() {
        assert_eq!(
            step(State::Done, Action::Accept, Actor::Helper, &Facts::default()),
            Err(BookingError::InvalidTransition { state: "done", action: "accept" })
        );
    }

    #[test]
    fn cancellation_records_who_cancelled() {
        assert_eq!(step(State::Accepted, Action::Cancel, Actor::Customer, &Facts::default()).map(|s| s.to), Ok(State::CancelledByCustomer));
        assert_eq!(step(State::Accepted, Action::Cancel, Actor::Helper, &Facts::default()).map(|s| s.to), Ok(State::CancelledByHelper));
        assert_eq!(
            step(State::Requested, Action::Cancel, Actor::Operator, &Facts::default()).map(|s| s.to),
            Ok(State::CancelledByOperator)
        );
    }

    #[test]
    fn final_states_have_no_way_out() {
        let all_facts = Facts {
            start_code_ok: true,
            signoff_code_ok: true,
            change_pending: true,
            reschedule_from_other: true,
            past_start_grace: true,
            failure_cause_ok: true,
        };
        for s in State::ALL.into_iter().filter(|s| s.is_final()) {
            for a in Action::ALL {
                for actor in [Actor::Customer, Actor::Helper, Actor::Operator, Actor::System] {
                    assert!(step(s, a, actor, &all_facts).is_err(), "{s} {a:?} {actor:?}");
                }
            }
        }
        let finals: Vec<_> = State::ALL.into_iter().filter(|s| s.is_final()).collect();
        assert_eq!(finals.len(), 9, "{finals:?}");
    }

    #[test]
    fn guards_are_checked() {
        let none = Facts::default();
        let e = step(State::EnRoute, Action::Arrive, Actor::Helper, &none).expect_err("needs the code");
        assert_eq!(e.guard_code(), Some("wrong_start_code"));
        let ok = Facts { start_code_ok: true, ..none };
        assert_eq!(step(State::EnRoute, Action::Arrive, Actor::Helper, &ok).map(|s| s.to), Ok(State::OnSite));
        assert_eq!(
            step(State::OnSite, Action::Complete, Actor::Helper, &none).map_err(|e| e.guard_code()),
            Err(Some("wrong_signoff_code"))
        );
        assert_eq!(step(State::OnSite, Action::Complete, Actor::Operator, &none).map(|s| s.to), Ok(State::Done));
        assert_eq!(
            step(State::Accepted, Action::MarkNoShow, Actor::Helper, &none).map_err(|e| e.guard_code()),
            Err(Some("too_early_for_no_show"))
        );
        let late = Facts { past_start_grace: true, ..none };
        assert_eq!(step(State::Accepted, Action::MarkNoShow, Actor::Helper, &late).map(|s| s.to), Ok(State::NoShowCustomer));
        assert_eq!(step(State::Accepted, Action::MarkNoShow, Actor::Customer, &late).map(|s| s.to), Ok(State::NoShowHelper));
    }

    #[test]
    fn timers_only_act_on_bookings_that_have_not_moved_on() {
        assert!(Timer::RequestExpiry.applies_in(State::Requested));
        assert!(!Timer::RequestExpiry.applies_in(State::Accepted));
        assert!(Timer::Reminder1h.applies_in(State::Confirmed));
        assert!(!Timer::Reminder24h.applies_in(State::CancelledByCustomer));
        assert_eq!(step(State::Requested, Action::Expire, Actor::System, &Facts::default()).map(|s| s.to), Ok(State::Expired));
        assert!(step(State::Requested, Action::Expire, Actor::Customer, &Facts::default()).is_err());
        assert!("expire".parse::<Action>().is_err(), "people cannot send the timers' action");
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        for a in Action::ALL.into_iter().filter(|a| *a != Action::Expire) {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
        for n in Notice::ALL {
            assert_eq!(n.as_str().parse::<Notice>(), Ok(n));
        }
    }

    #[test]
    fn only_open_bookings_hold_time() {
        assert_eq!(State::time_holding_names(), vec!["requested", "accepted", "confirmed", "en_route", "on_site"]);
    }
}

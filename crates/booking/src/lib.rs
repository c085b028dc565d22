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
    /// The customer asked a helper; the helper has not answered.
    Requested,
    /// The helper said yes; the visit is planned.
    Accepted,
    /// The helper said no.
    Declined,
    /// The customer called it off.
    CancelledByCustomer,
    /// The helper called it off.
    CancelledByHelper,
    /// An operator called it off on someone's behalf.
    CancelledByOperator,
    /// The visit took place and the job is done.
    Done,
}

impl State {
    /// Every state, for exhaustive checks.
    pub const ALL: [State; 7] = [
        State::Requested,
        State::Accepted,
        State::Declined,
        State::CancelledByCustomer,
        State::CancelledByHelper,
        State::CancelledByOperator,
        State::Done,
    ];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Requested => "requested",
            State::Accepted => "accepted",
            State::Declined => "declined",
            State::CancelledByCustomer => "cancelled_by_customer",
            State::CancelledByHelper => "cancelled_by_helper",
            State::CancelledByOperator => "cancelled_by_operator",
            State::Done => "done",
        }
    }

    /// Whether a booking in this state holds the helper's time (counts as busy for overlap).
    pub fn holds_time(self) -> bool {
        matches!(self, State::Requested | State::Accepted)
    }

    /// The states that hold a helper's time, as stored names (for the database's overlap guard).
    pub fn time_holding_names() -> Vec<&'static str> {
        Self::ALL
            .iter()
            .filter(|s| s.holds_time())
            .map(|s| s.as_str())
            .collect()
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
        State::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| BookingError::UnknownState(s.chars().take(40).collect()))
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
    /// The helper reports the job done.
    Complete,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 4] = [
        Action::Accept,
        Action::Decline,
        Action::Cancel,
        Action::Complete,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Decline => "decline",
            Action::Cancel => "cancel",
            Action::Complete => "complete",
        }
    }
}

impl FromStr for Action {
    type Err = BookingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Action::ALL
            .into_iter()
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
}

impl Actor {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Customer => "customer",
            Actor::Helper => "helper",
            Actor::Operator => "operator",
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
}

impl Notice {
    /// The stored name (the template key).
    pub fn as_str(self) -> &'static str {
        match self {
            Notice::Requested => "booking_requested",
            Notice::Accepted => "booking_accepted",
            Notice::Declined => "booking_declined",
            Notice::Cancelled => "booking_cancelled",
            Notice::Completed => "booking_completed",
        }
    }
}

impl FromStr for Notice {
    type Err = BookingError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Notice::Requested,
            Notice::Accepted,
            Notice::Declined,
            Notice::Cancelled,
            Notice::Completed,
        ]
        .into_iter()
        .find(|n| n.as_str() == s)
        .ok_or_else(|| BookingError::UnknownAction(s.chars().take(40).collect()))
    }
}

/// Where a transition leads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Always this state.
    To(State),
    /// A cancellation, recorded by who cancelled.
    CancelledBy,
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
    /// The state it leads to.
    pub target: Target,
    /// Who is told, and about what.
    pub notify: &'static [(Party, Notice)],
}

use Actor as A;
use Party as P;
use State as S;

/// The whole process. The first matching row wins.
pub const TRANSITIONS: &[Transition] = &[
    Transition {
        from: &[S::Requested],
        action: Action::Accept,
        actors: &[A::Helper],
        target: Target::To(S::Accepted),
        notify: &[
            (P::Customer, Notice::Accepted),
            (P::Helper, Notice::Accepted),
        ],
    },
    Transition {
        from: &[S::Requested],
        action: Action::Decline,
        actors: &[A::Helper],
        target: Target::To(S::Declined),
        notify: &[(P::Customer, Notice::Declined)],
    },
    Transition {
        from: &[S::Requested, S::Accepted],
        action: Action::Cancel,
        actors: &[A::Customer, A::Helper, A::Operator],
        target: Target::CancelledBy,
        notify: &[
            (P::Customer, Notice::Cancelled),
            (P::Helper, Notice::Cancelled),
        ],
    },
    Transition {
        from: &[S::Accepted],
        action: Action::Complete,
        actors: &[A::Helper, A::Operator],
        target: Target::To(S::Done),
        notify: &[
            (P::Customer, Notice::Completed),
            (P::Helper, Notice::Completed),
        ],
    },
];

/// The notices a brand-new request causes.
pub const ON_REQUEST: &[(Party, Notice)] = &[(P::Helper, Notice::Requested)];

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
    /// An action name that does not exist.
    #[error("`{0}` is not an action; use accept, decline, cancel or complete")]
    UnknownAction(String),
    /// A stored state name that does not exist (a corrupt row).
    #[error("unknown booking state `{0}`")]
    UnknownState(String),
}

/// The outcome of a permitted transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The new state.
    pub to: State,
    /// Who must be told, and about what.
    pub notify: &'static [(Party, Notice)],
}

/// Decides a transition: the one function every entry point uses.
pub fn step(state: State, action: Action, actor: Actor) -> Result<Step, BookingError> {
    let row = TRANSITIONS
        .iter()
        .find(|t| t.action == action && t.from.contains(&state))
        .ok_or(BookingError::InvalidTransition {
            state: state.as_str(),
            action: action.as_str(),
        })?;
    if !row.actors.contains(&actor) {
        let allowed = row
            .actors
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(BookingError::NotAllowed {
            allowed: format!("the {allowed}"),
            action: action.as_str(),
        });
    }
    let to = match row.target {
        Target::To(s) => s,
        Target::CancelledBy => match actor {
            Actor::Customer => State::CancelledByCustomer,
            Actor::Helper => State::CancelledByHelper,
            Actor::Operator => State::CancelledByOperator,
        },
    };
    Ok(Step {
        to,
        notify: row.notify,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_helper_accepts_a_request() {
        let s = step(State::Requested, Action::Accept, Actor::Helper).expect("allowed");
        assert_eq!(s.to, State::Accepted);
        assert!(s.notify.contains(&(Party::Customer, Notice::Accepted)));
    }

    #[test]
    fn a_customer_cannot_accept_for_the_helper() {
        assert!(matches!(
            step(State::Requested, Action::Accept, Actor::Customer),
            Err(BookingError::NotAllowed { .. })
        ));
    }

    #[test]
    fn a_done_booking_cannot_be_accepted_again() {
        assert_eq!(
            step(State::Done, Action::Accept, Actor::Helper),
            Err(BookingError::InvalidTransition {
                state: "done",
                action: "accept"
            })
        );
    }

    #[test]
    fn cancellation_records_who_cancelled() {
        assert_eq!(
            step(State::Accepted, Action::Cancel, Actor::Customer).map(|s| s.to),
            Ok(State::CancelledByCustomer)
        );
        assert_eq!(
            step(State::Accepted, Action::Cancel, Actor::Helper).map(|s| s.to),
            Ok(State::CancelledByHelper)
        );
        assert_eq!(
            step(State::Requested, Action::Cancel, Actor::Operator).map(|s| s.to),
            Ok(State::CancelledByOperator)
        );
    }

    #[test]
    fn terminal_states_have_no_way_out() {
        for s in State::ALL
            .into_iter()
            .filter(|s| !matches!(s, State::Requested | State::Accepted))
        {
            for a in Action::ALL {
                for actor in [Actor::Customer, Actor::Helper, Actor::Operator] {
                    assert!(step(s, a, actor).is_err(), "{s} {a:?} {actor:?}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in State::ALL {
            assert_eq!(s.as_str().parse::<State>(), Ok(s));
        }
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>(), Ok(a));
        }
    }

    #[test]
    fn only_open_bookings_hold_time() {
        assert_eq!(State::time_holding_names(), vec!["requested", "accepted"]);
    }
}

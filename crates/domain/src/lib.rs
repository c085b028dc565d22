//! The vocabulary every other Quartier crate speaks: identifiers, money, places, time windows,
//! roles and languages.
//!
//! Values here are parsed, not validated later: a `Money` is always whole Rappen, a `GeoPoint`
//! always lies on the globe, a `TimeWindow` never ends before it starts, an `Email` has been
//! normalised. Nothing in this crate knows HTTP, SQL or the clock.

mod id;
mod money;
mod people;
mod place;
mod time;

pub use id::{BookingId, Id, UserId};
pub use money::{Currency, Money};
pub use people::{Email, Locale, PersonName, Role, Skill};
pub use place::{DistanceBucket, GeoPoint};
pub use time::TimeWindow;

/// Why a raw value could not become a domain value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    /// The e-mail address is not of the form `local@domain.tld`.
    #[error("`{0}` is not a valid e-mail address")]
    InvalidEmail(String),
    /// A latitude or longitude outside its range, or not a number.
    #[error("coordinates out of range: latitude must be within -90..90 and longitude within -180..180")]
    InvalidCoordinates,
    /// A time window whose end is not after its start.
    #[error("the time window must end after it starts")]
    EmptyWindow,
    /// A name that is empty or too long.
    #[error("a name must have 1 to 100 characters")]
    InvalidName,
    /// A skill name that is not lower-case letters and underscores.
    #[error("`{0}` is not a valid skill name")]
    InvalidSkill(String),
    /// An unknown role name.
    #[error("`{0}` is not a role; use customer, helper or operator")]
    InvalidRole(String),
    /// An unsupported language.
    #[error("`{0}` is not a supported language; use de, fr, it or en")]
    InvalidLocale(String),
    /// A negative or overflowing amount of money.
    #[error("invalid amount of money")]
    InvalidMoney,
    /// An identifier that is not a UUID.
    #[error("`{0}` is not a valid identifier")]
    InvalidId(String),
}

//! Prices for neighbourhood help: the service catalogue, upfront quotes, the cancellation and
//! no-show policy, the double-entry ledger and the Swiss QR-bill.
//!
//! Invariants kept by this crate:
//! - a price is computed from the catalogue entry as it was when the booking was made and then
//!   copied into the booking (a [`Quote`] serialises to JSON for that); changing the catalogue
//!   never changes a booking already made;
//! - money is integer Rappen everywhere ([`Money`] for amounts, `i64` for signed ledger
//!   postings), never floats;
//! - every function is deterministic: instants such as "now" are arguments, never read from a
//!   clock.
//!
//! This crate knows neither HTTP nor SQL.
//!
//! Modules:
//! - [`quote`](mod@quote): the upfront quote with its breakdown (total = sum of the lines);
//! - [`policy`]: the versioned cancellation and no-show policy (windows tile the time before a
//!   start without gaps or overlaps);
//! - [`ledger`]: balanced double-entry transactions for every money movement;
//! - [`rounding`]: 5-Rappen cash rounding and basis-point arithmetic;
//! - [`qrbill`]: the Swiss QR-bill payload and its QR code.

#![deny(missing_docs)]

use quartier_domain::Money;

mod catalogue;
pub mod ledger;
mod money_serde;
pub mod policy;
pub mod qrbill;
pub mod quote;
pub mod rounding;

pub use catalogue::default_catalogue;
pub use ledger::{Account, LedgerError, Posting, Transaction, TransactionKind};
pub use policy::{Policy, PolicyError, Window, default_policy};
pub use quote::{DistanceBucket, LineKind, PricingConfig, Quote, QuoteLine, QuoteRequest, TravelFees, quote, quote_visit};
pub use rounding::round_5_rappen;

/// One kind of job customers can book, with its fixed price for a standard duration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Stable identifier used in URLs and requests, e.g. `guest-wifi`.
    pub slug: String,
    /// Short name shown to customers.
    pub name: String,
    /// One or two sentences on what the helper does.
    pub description: String,
    /// The skill a helper needs for it.
    pub skill: String,
    /// Price for the standard duration.
    pub base_price: Money,
    /// How long the job usually takes, in minutes.
    pub duration_minutes: u32,
    /// Price of each extra 30 minutes beyond the standard duration.
    pub extra_unit_price: Money,
}

/// Why a quote cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PricingError {
    /// More extra units than a visit can hold.
    #[error("at most {max} extra 30-minute units can be booked")]
    TooManyExtraUnits {
        /// The largest allowed number.
        max: u32,
    },
    /// The computation overflowed (absurd inputs).
    #[error("the price is out of range")]
    Overflow,
    /// The visit would start before the moment it is booked.
    #[error("the start is before the moment of booking")]
    StartBeforeBooking,
    /// A pricing configuration value is out of its range.
    #[error("the pricing setting `{field}` is out of range")]
    InvalidConfig {
        /// The name of the offending setting.
        field: &'static str,
    },
}

impl PricingError {
    /// A stable, machine-readable code for API error envelopes.
    pub fn code(&self) -> &'static str {
        match self {
            PricingError::TooManyExtraUnits { .. } => "too_many_extra_units",
            PricingError::Overflow => "price_out_of_range",
            PricingError::StartBeforeBooking => "start_before_booking",
            PricingError::InvalidConfig { .. } => "invalid_pricing_config",
        }
    }
}

/// The most extra 30-minute units on one visit (4 hours).
pub const MAX_EXTRA_UNITS: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;

    fn wifi() -> Service {
        default_catalogue().into_iter().find(|s| s.slug == "guest-wifi").expect("in catalogue")
    }

    #[test]
    fn a_plain_visit_costs_the_base_price() {
        let q = quote(&wifi(), 0).expect("quotes");
        assert_eq!(q.total, wifi().base_price);
        assert_eq!(q.duration_minutes, wifi().duration_minutes);
    }

    #[test]
    fn extra_units_add_price_and_time() {
        let s = wifi();
        let q = quote(&s, 2).expect("quotes");
        assert_eq!(q.total.rappen(), s.base_price.rappen() + 2 * s.extra_unit_price.rappen());
        assert_eq!(q.duration_minutes, s.duration_minutes + 60);
    }

    #[test]
    fn too_many_units_are_refused() {
        assert_eq!(quote(&wifi(), MAX_EXTRA_UNITS + 1), Err(PricingError::TooManyExtraUnits { max: MAX_EXTRA_UNITS }));
    }
}

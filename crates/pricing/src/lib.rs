//! Prices for neighbourhood help: the service catalogue and quotes.
//!
//! Invariant: a price is computed from the catalogue entry as it was when the booking was made and
//! then copied into the booking; changing the catalogue never changes a booking already made.
//! This crate knows neither HTTP nor SQL.

use quartier_domain::Money;

mod catalogue;

pub use catalogue::default_catalogue;

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
}

/// The most extra 30-minute units on one visit (4 hours).
pub const MAX_EXTRA_UNITS: u32 = 8;

/// A price and how it was reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    /// Base price of the service.
    pub base: Money,
    /// Number of extra 30-minute units.
    pub extra_units: u32,
    /// Price of those units.
    pub extra: Money,
    /// What the customer pays.
    pub total: Money,
    /// Duration of the visit, in minutes.
    pub duration_minutes: u32,
}

/// Prices a visit: the base price plus any extra 30-minute units. Travel fees, surcharges, VAT
/// and fees join this breakdown as the pricing issue adds them.
pub fn quote(service: &Service, extra_units: u32) -> Result<Quote, PricingError> {
    if extra_units > MAX_EXTRA_UNITS {
        return Err(PricingError::TooManyExtraUnits {
            max: MAX_EXTRA_UNITS,
        });
    }
    let extra = service
        .extra_unit_price
        .checked_mul(i64::from(extra_units))
        .ok_or(PricingError::Overflow)?;
    let total = service
        .base_price
        .checked_add(extra)
        .ok_or(PricingError::Overflow)?;
    Ok(Quote {
        base: service.base_price,
        extra_units,
        extra,
        total,
        duration_minutes: service.duration_minutes + 30 * extra_units,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wifi() -> Service {
        default_catalogue()
            .into_iter()
            .find(|s| s.slug == "guest-wifi")
            .expect("in catalogue")
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
        assert_eq!(
            q.total.rappen(),
            s.base_price.rappen() + 2 * s.extra_unit_price.rappen()
        );
        assert_eq!(q.duration_minutes, s.duration_minutes + 60);
    }

    #[test]
    fn too_many_units_are_refused() {
        assert_eq!(
            quote(&wifi(), MAX_EXTRA_UNITS + 1),
            Err(PricingError::TooManyExtraUnits {
                max: MAX_EXTRA_UNITS
            })
        );
    }
}

//! Money is a whole number of Rappen (1/100 CHF) from the request to the ledger; no floats.

use std::fmt;

use crate::DomainError;

/// The currencies Quartier handles. Only Swiss francs for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Currency {
    /// Swiss francs, counted in Rappen.
    #[serde(rename = "CHF")]
    Chf,
}

impl Currency {
    /// ISO 4217 code.
    pub fn code(self) -> &'static str {
        match self {
            Currency::Chf => "CHF",
        }
    }
}

/// A non-negative amount of Swiss francs in Rappen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money {
    rappen: i64,
}

impl Money {
    /// Zero francs.
    pub const ZERO: Money = Money { rappen: 0 };

    /// An amount in Rappen; negative amounts are refused (refunds are ledger directions, not signs).
    pub fn from_rappen(rappen: i64) -> Result<Self, DomainError> {
        if rappen < 0 {
            return Err(DomainError::InvalidMoney);
        }
        Ok(Self { rappen })
    }

    /// Whole francs, for catalogue literals.
    pub const fn chf(francs: i64) -> Self {
        Self { rappen: francs * 100 }
    }

    /// The amount in Rappen.
    pub fn rappen(self) -> i64 {
        self.rappen
    }

    /// The currency (always CHF today).
    pub fn currency(self) -> Currency {
        Currency::Chf
    }

    /// Sum of two amounts, `None` on overflow.
    pub fn checked_add(self, other: Money) -> Option<Money> {
        self.rappen.checked_add(other.rappen).map(|rappen| Money { rappen })
    }

    /// The amount times a count, `None` on overflow.
    pub fn checked_mul(self, n: i64) -> Option<Money> {
        if n < 0 {
            return None;
        }
        self.rappen.checked_mul(n).map(|rappen| Money { rappen })
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CHF {}.{:02}", self.rappen / 100, self.rappen % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_francs_and_rappen() {
        assert_eq!(Money::from_rappen(4905).expect("valid").to_string(), "CHF 49.05");
        assert_eq!(Money::chf(30).to_string(), "CHF 30.00");
    }

    #[test]
    fn negative_amounts_are_refused() {
        assert_eq!(Money::from_rappen(-1), Err(DomainError::InvalidMoney));
    }

    #[test]
    fn arithmetic_overflow_is_detected() {
        assert!(Money::chf(1).checked_mul(i64::MAX).is_none());
        assert_eq!(Money::chf(1).checked_add(Money::chf(2)), Some(Money::chf(3)));
    }
}

//! Serde for [`Money`] as a plain integer number of Rappen, so stored JSON stays exact.
//!
//! Invariant: deserialising never yields a negative amount (negative numbers are refused).

use quartier_domain::Money;
use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

/// Writes the amount as its Rappen count.
pub(crate) fn serialize<S: Serializer>(money: &Money, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_i64(money.rappen())
}

/// Reads a Rappen count, refusing negative numbers.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Money, D::Error> {
    let rappen = i64::deserialize(deserializer)?;
    Money::from_rappen(rappen).map_err(|_| D::Error::custom("an amount cannot be negative"))
}

//! Rounding of money: 5-Rappen cash rounding and percentages in basis points.
//!
//! Invariant: all arithmetic is on integers; a rounded amount never moves by more than half a
//! step (2 Rappen for cash rounding, half a Rappen for percentages) and rounding is symmetric
//! around zero (`round(-x) == -round(x)`), so refunds and charges round alike.

/// One hundred percent in basis points.
pub const FULL_BPS: u32 = 10_000;

/// Rounds an amount in Rappen to the nearest multiple of 5 Rappen, halves away from zero
/// (1001 → 1000, 1003 → 1005, 1007 → 1005, 1008 → 1010, -1003 → -1005).
///
/// Used for cash only: card and invoice amounts stay exact to the Rappen. For amounts within
/// 2 Rappen of `i64::MIN`/`i64::MAX`, where the nearest multiple is not representable, the
/// result is the nearest representable multiple of 5 towards zero.
pub fn round_5_rappen(rappen: i64) -> i64 {
    let magnitude = rappen.unsigned_abs();
    let rounded = magnitude.saturating_add(2) / 5 * 5;
    let rounded = i64::try_from(rounded).unwrap_or(i64::MAX - i64::MAX % 5);
    if rappen < 0 { -rounded } else { rounded }
}

/// `amount × bps / 10 000`, rounded to the Rappen, halves away from zero; `None` if the result
/// does not fit in an `i64`.
pub fn apply_bps(amount: i64, bps: u32) -> Option<i64> {
    let product = i128::from(amount) * i128::from(bps);
    let denominator = i128::from(FULL_BPS);
    let half = denominator / 2;
    let rounded = if product >= 0 { (product + half) / denominator } else { (product - half) / denominator };
    i64::try_from(rounded).ok()
}

/// `amount × numerator / denominator`, rounded to the Rappen, halves away from zero; `None` if
/// the denominator is zero or the result does not fit in an `i64`.
pub fn apply_ratio(amount: i64, numerator: i64, denominator: i64) -> Option<i64> {
    if denominator == 0 {
        return None;
    }
    let mut product = i128::from(amount) * i128::from(numerator);
    let mut denominator = i128::from(denominator);
    if denominator < 0 {
        product = -product;
        denominator = -denominator;
    }
    let half = denominator / 2;
    let rounded = if product >= 0 { (product + half) / denominator } else { (product - half) / denominator };
    i64::try_from(rounded).ok()
}

/// A basis-point rate as a short percentage for labels: 810 → "8.1%", 2000 → "20%",
/// 25 → "0.25%".
pub fn format_bps(bps: u32) -> String {
    let whole = bps / 100;
    let fraction = bps % 100;
    if fraction == 0 {
        format!("{whole}%")
    } else if fraction.is_multiple_of(10) {
        format!("{whole}.{}%", fraction / 10)
    } else {
        format!("{whole}.{fraction:02}%")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cash_rounding_matches_the_reference_examples() {
        assert_eq!(round_5_rappen(1001), 1000);
        assert_eq!(round_5_rappen(1003), 1005);
        assert_eq!(round_5_rappen(1007), 1005);
        assert_eq!(round_5_rappen(1008), 1010);
        assert_eq!(round_5_rappen(1002), 1000);
        assert_eq!(round_5_rappen(-1003), -1005);
        assert_eq!(round_5_rappen(0), 0);
        assert_eq!(round_5_rappen(i64::MAX) % 5, 0);
        assert_eq!(round_5_rappen(i64::MIN) % 5, 0);
    }

    #[test]
    fn basis_points_round_half_away_from_zero() {
        assert_eq!(apply_bps(4900, 810), Some(397)); // 396.9
        assert_eq!(apply_bps(50, 1000), Some(5));
        assert_eq!(apply_bps(5, 1000), Some(1)); // 0.5 → 1
        assert_eq!(apply_bps(-5, 1000), Some(-1));
        assert_eq!(apply_bps(i64::MAX, 10_000), Some(i64::MAX));
        assert_eq!(apply_bps(i64::MAX, 10_001), None);
        assert_eq!(apply_ratio(10, 1, 4), Some(3)); // 2.5 → 3
        assert_eq!(apply_ratio(10, 1, 0), None);
    }

    #[test]
    fn percentages_are_labelled_briefly() {
        assert_eq!(format_bps(810), "8.1%");
        assert_eq!(format_bps(2000), "20%");
        assert_eq!(format_bps(25), "0.25%");
        assert_eq!(format_bps(0), "0%");
    }
}

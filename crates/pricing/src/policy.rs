//! The cancellation and no-show policy, as versioned data pinned to each booking when it is
//! made.
//!
//! Invariant: a valid policy's cancellation windows tile the whole time before a start, from
//! the start itself back to "any time earlier", with neither gaps nor overlaps, so every
//! cancellation falls in exactly one window; every rate lies in 0..=10 000 basis points; every
//! fee is split without loss (`helper_share + platform_share == fee`).
//!
//! A window covers the cancellations made while the time left before the start is at least
//! `to_hours_before` and less than `from_hours_before` (`None` meaning any time earlier).
//! A cancellation at or after the start counts as made 0 hours before.

use jiff::{SignedDuration, Timestamp};
use quartier_domain::Money;
use serde::{Deserialize, Serialize};

use crate::rounding::{FULL_BPS, apply_bps};

/// One band of notice with its cancellation fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The far edge: the window covers notice shorter than this many hours; `None` for the
    /// open-ended window (any earlier cancellation).
    pub from_hours_before: Option<u32>,
    /// The near edge: the window covers notice of at least this many hours.
    pub to_hours_before: u32,
    /// The fee, in basis points of the booking total.
    pub fee_bps: u32,
}

impl Window {
    /// Whether a cancellation with `notice` left before the start falls in this window.
    pub fn covers(&self, notice: SignedDuration) -> bool {
        let notice = notice.max(SignedDuration::ZERO);
        let to = SignedDuration::from_hours(i64::from(self.to_hours_before));
        let below_from = match self.from_hours_before {
            Some(from) => notice < SignedDuration::from_hours(i64::from(from)),
            None => true,
        };
        notice >= to && below_from
    }
}

/// A versioned cancellation and no-show policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The version pinned to bookings (starts at 1; a change makes a new version).
    pub version: u32,
    /// Customer cancellation fees by notice.
    pub customer_cancellation: Vec<Window>,
    /// The helper's share of a late-cancellation fee, in basis points of the fee; the rest is
    /// the platform's.
    pub helper_compensation_bps: u32,
    /// The fee when the customer is not there, in basis points of the booking total.
    pub customer_no_show_fee_bps: u32,
    /// The helper's share of a customer no-show fee, in basis points of the fee.
    pub customer_no_show_helper_bps: u32,
    /// What a helper who does not come owes.
    #[serde(with = "crate::money_serde")]
    pub helper_no_show_penalty: Money,
    /// How much of what the customer paid is refunded when the helper does not come, in basis
    /// points.
    pub helper_no_show_refund_bps: u32,
    /// How long after a visit the customer can dispute it before the helper's payout is
    /// released, in hours.
    pub dispute_window_hours: u32,
}

/// The policy Quartier starts with (version 1): free cancellation until 24 h before, 50 % from
/// 24 h to 2 h, 100 % within 2 h; the helper gets 80 % of a late-cancellation fee; a customer
/// no-show costs 100 %, all of it the helper's; a helper no-show costs the helper CHF 20 and
/// the customer gets a full refund; payouts are released 72 h after the visit.
pub fn default_policy() -> Policy {
    Policy {
        version: 1,
        customer_cancellation: vec![
            Window { from_hours_before: None, to_hours_before: 24, fee_bps: 0 },
            Window { from_hours_before: Some(24), to_hours_before: 2, fee_bps: 5_000 },
            Window { from_hours_before: Some(2), to_hours_before: 0, fee_bps: 10_000 },
        ],
        helper_compensation_bps: 8_000,
        customer_no_show_fee_bps: 10_000,
        customer_no_show_helper_bps: 10_000,
        helper_no_show_penalty: Money::chf(20),
        helper_no_show_refund_bps: 10_000,
        dispute_window_hours: 336,
    }
}

/// Why a policy is invalid or cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Versions start at 1.
    #[error("a policy version starts at 1")]
    InvalidVersion,
    /// There are no cancellation windows.
    #[error("the policy has no cancellation windows")]
    NoWindows,
    /// A window whose far edge is not beyond its near edge.
    #[error("window {index} is empty: it must start further before the start than it ends")]
    EmptyWindow {
        /// Position of the window in the list.
        index: usize,
    },
    /// Two windows cover the same notice.
    #[error("two windows overlap at {at_hours} h before the start")]
    OverlappingWindows {
        /// Where the overlap begins, in hours before the start.
        at_hours: u32,
    },
    /// Some notice is covered by no window.
    #[error("no window covers notice from {from_hours} h (or more) down to {to_hours} h")]
    GappedWindows {
        /// The far edge of the gap (`u32::MAX` when nothing is open-ended).
        from_hours: u32,
        /// The near edge of the gap.
        to_hours: u32,
    },
    /// A rate outside 0..=10 000 basis points.
    #[error("`{field}` must be 0 to 10000 basis points, not {bps}")]
    FeeOutOfRange {
        /// The offending field.
        field: &'static str,
        /// Its value.
        bps: u32,
    },
    /// No window covers this notice (only for an unvalidated policy).
    #[error("no cancellation window covers this moment")]
    NoWindowApplies,
    /// An amount or instant out of range.
    #[error("an amount or time is out of range")]
    Overflow,
}

impl PolicyError {
    /// A stable, machine-readable code for API error envelopes.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::InvalidVersion => "invalid_version",
            PolicyError::NoWindows => "no_windows",
            PolicyError::EmptyWindow { .. } => "empty_window",
            PolicyError::OverlappingWindows { .. } => "overlapping_windows",
            PolicyError::GappedWindows { .. } => "gapped_windows",
            PolicyError::FeeOutOfRange { .. } => "fee_out_of_range",
            PolicyError::NoWindowApplies => "no_window_applies",
            PolicyError::Overflow => "out_of_range",
        }
    }
}

/// A fee charged to the customer and how it is split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeOutcome {
    /// The policy version applied.
    pub policy_version: u32,
    /// The rate applied to the booking total, in basis points.
    pub fee_bps: u32,
    /// What the customer owes.
    #[serde(with = "crate::money_serde")]
    pub fee: Money,
    /// The helper's part of the fee.
    #[serde(with = "crate::money_serde")]
    pub helper_share: Money,
    /// The platform's part of the fee (`fee - helper_share`).
    #[serde(with = "crate::money_serde")]
    pub platform_share: Money,
}

/// What follows when the helper does not come.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelperNoShowOutcome {
    /// The policy version applied.
    pub policy_version: u32,
    /// What the helper owes.
    #[serde(with = "crate::money_serde")]
    pub penalty: Money,
    /// What is given back to the customer of what they had paid.
    #[serde(with = "crate::money_serde")]
    pub refund: Money,
}

impl Policy {
    /// Checks the version, the rates and that the windows tile the time before a start.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.version == 0 {
            return Err(PolicyError::InvalidVersion);
        }
        let rates = [
            ("helper_compensation_bps", self.helper_compensation_bps),
            ("customer_no_show_fee_bps", self.customer_no_show_fee_bps),
            ("customer_no_show_helper_bps", self.customer_no_show_helper_bps),
            ("helper_no_show_refund_bps", self.helper_no_show_refund_bps),
        ];
        let windows = self.customer_cancellation.iter().map(|w| ("customer_cancellation.fee_bps", w.fee_bps));
        for (field, bps) in rates.into_iter().chain(windows) {
            if bps > FULL_BPS {
                return Err(PolicyError::FeeOutOfRange { field, bps });
            }
        }
        if self.customer_cancellation.is_empty() {
            return Err(PolicyError::NoWindows);
        }
        for (index, w) in self.customer_cancellation.iter().enumerate() {
            if w.from_hours_before.is_some_and(|from| from <= w.to_hours_before) {
                return Err(PolicyError::EmptyWindow { index });
            }
        }
        let mut sorted = self.customer_cancellation.clone();
        sorted.sort_by_key(|w| w.to_hours_before);
        // `reached` is how far back from the start the windows so far cover without a gap;
        // `None` once an open-ended window has been seen.
        let mut reached = Some(0u32);
        for w in &sorted {
            let Some(edge) = reached else {
                return Err(PolicyError::OverlappingWindows { at_hours: w.to_hours_before });
            };
            if w.to_hours_before < edge {
                return Err(PolicyError::OverlappingWindows { at_hours: w.to_hours_before });
            }
            if w.to_hours_before > edge {
                return Err(PolicyError::GappedWindows { from_hours: w.to_hours_before, to_hours: edge });
            }
            reached = w.from_hours_before;
        }
        if let Some(edge) = reached {
            return Err(PolicyError::GappedWindows { from_hours: u32::MAX, to_hours: edge });
        }
        Ok(())
    }

    /// The window a cancellation at `at` of a visit starting at `start` falls in.
    pub fn window_at(&self, start: Timestamp, at: Timestamp) -> Option<&Window> {
        let notice = start.duration_since(at);
        self.customer_cancellation.iter().find(|w| w.covers(notice))
    }

    /// The fee for a customer cancelling at `at` a visit of `total` starting at `start`, and
    /// how it is split between helper and platform.
    pub fn cancellation_fee(&self, total: Money, start: Timestamp, at: Timestamp) -> Result<FeeOutcome, PolicyError> {
        let window = self.window_at(start, at).ok_or(PolicyError::NoWindowApplies)?;
        self.split(total, window.fee_bps, self.helper_compensation_bps)
    }

    /// The fee when the customer is not there for a visit of `total`, and its split.
    pub fn customer_no_show(&self, total: Money) -> Result<FeeOutcome, PolicyError> {
        self.split(total, self.customer_no_show_fee_bps, self.customer_no_show_helper_bps)
    }

    /// The penalty and refund when the helper does not come; `paid` is what the customer had
    /// already paid for the visit (often nothing).
    pub fn helper_no_show(&self, paid: Money) -> Result<HelperNoShowOutcome, PolicyError> {
        let refund = money(apply_bps(paid.rappen(), self.helper_no_show_refund_bps))?;
        Ok(HelperNoShowOutcome { policy_version: self.version, penalty: self.helper_no_show_penalty, refund })
    }

    /// When the helper's payout for a visit completed at `completed_at` is released.
    pub fn payout_release_at(&self, completed_at: Timestamp) -> Result<Timestamp, PolicyError> {
        completed_at.checked_add(self.dispute_window()).map_err(|_| PolicyError::Overflow)
    }

    /// The dispute window as a duration.
    pub fn dispute_window(&self) -> SignedDuration {
        SignedDuration::from_hours(i64::from(self.dispute_window_hours))
    }

    fn split(&self, total: Money, fee_bps: u32, helper_bps: u32) -> Result<FeeOutcome, PolicyError> {
        let fee = money(apply_bps(total.rappen(), fee_bps))?;
        let helper_share = money(apply_bps(fee.rappen(), helper_bps))?;
        let platform_share = money(Some(fee.rappen() - helper_share.rappen()))?;
        Ok(FeeOutcome { policy_version: self.version, fee_bps, fee, helper_share, platform_share })
    }
}

fn money(rappen: Option<i64>) -> Result<Money, PolicyError> {
    rappen.and_then(|r| Money::from_rappen(r).ok()).ok_or(PolicyError::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn window(from: Option<u32>, to: u32, fee_bps: u32) -> Window {
        Window { from_hours_before: from, to_hours_before: to, fee_bps }
    }

    fn with_windows(windows: Vec<Window>) -> Policy {
        Policy { customer_cancellation: windows, ..default_policy() }
    }

    #[test]
    fn the_default_policy_is_valid() {
        assert_eq!(default_policy().validate(), Ok(()));
    }

    #[test]
    fn window_order_does_not_matter() {
        let mut p = default_policy();
        p.customer_cancellation.reverse();
        assert_eq!(p.validate(), Ok(()));
    }

    #[test]
    fn a_single_open_window_is_valid() {
        assert_eq!(with_windows(vec![window(None, 0, 0)]).validate(), Ok(()));
    }

    #[test]
    fn overlapping_windows_are_refused() {
        let p = with_windows(vec![window(None, 24, 0), window(Some(30), 2, 5_000), window(Some(2), 0, 10_000)]);
        let e = p.validate().expect_err("overlap");
        assert_eq!(e.code(), "overlapping_windows");
        // Two open-ended windows overlap too.
        let p = with_windows(vec![window(None, 0, 0), window(None, 10, 0)]);
        assert_eq!(p.validate().map_err(|e| e.code()), Err("overlapping_windows"));
        // The same window twice.
        let p = with_windows(vec![window(None, 2, 0), window(Some(2), 0, 1), window(Some(2), 0, 1)]);
        assert_eq!(p.validate().map_err(|e| e.code()), Err("overlapping_windows"));
    }

    #[test]
    fn gapped_windows_are_refused() {
        let p = with_windows(vec![window(None, 24, 0), window(Some(20), 2, 5_000), window(Some(2), 0, 10_000)]);
        assert_eq!(p.validate(), Err(PolicyError::GappedWindows { from_hours: 24, to_hours: 20 }));
        // Nothing covers the last hour.
        let p = with_windows(vec![window(None, 1, 0)]);
        assert_eq!(p.validate().map_err(|e| e.code()), Err("gapped_windows"));
        // Nothing is open-ended.
        let p = with_windows(vec![window(Some(48), 0, 0)]);
        assert_eq!(p.validate().map_err(|e| e.code()), Err("gapped_windows"));
    }

    #[test]
    fn empty_and_missing_windows_are_refused() {
        let p = with_windows(vec![window(None, 2, 0), window(Some(2), 2, 0)]);
        assert_eq!(p.validate(), Err(PolicyError::EmptyWindow { index: 1 }));
        assert_eq!(with_windows(vec![]).validate().map_err(|e| e.code()), Err("no_windows"));
    }

    #[test]
    fn rates_outside_0_to_10000_bps_are_refused() {
        let p = with_windows(vec![window(None, 0, 10_001)]);
        assert_eq!(p.validate(), Err(PolicyError::FeeOutOfRange { field: "customer_cancellation.fee_bps", bps: 10_001 }));
        let p = Policy { helper_compensation_bps: 12_000, ..default_policy() };
        assert_eq!(p.validate().map_err(|e| e.code()), Err("fee_out_of_range"));
        let p = Policy { version: 0, ..default_policy() };
        assert_eq!(p.validate().map_err(|e| e.code()), Err("invalid_version"));
    }

    #[test]
    fn cancellation_fees_follow_the_notice() {
        let p = default_policy();
        let total = Money::chf(69);
        let start = ts("2026-03-11T09:00:00Z");
        let fee = |at: &str| p.cancellation_fee(total, start, ts(at)).expect("applies");
        // A week ahead, and exactly 24 h ahead: free.
        assert_eq!(fee("2026-03-04T09:00:00Z").fee, Money::ZERO);
        assert_eq!(fee("2026-03-10T09:00:00Z").fee, Money::ZERO);
        // A second later: half, 80 % of it to the helper.
        let half = fee("2026-03-10T09:00:01Z");
        assert_eq!(half.fee.rappen(), 3_450);
        assert_eq!(half.helper_share.rappen(), 2_760);
        assert_eq!(half.platform_share.rappen(), 690);
        assert_eq!(half.policy_version, 1);
        // Exactly 2 h ahead is still half; within 2 h and after the start, all of it.
        assert_eq!(fee("2026-03-11T07:00:00Z").fee_bps, 5_000);
        assert_eq!(fee("2026-03-11T07:00:01Z").fee, total);
        assert_eq!(fee("2026-03-11T10:00:00Z").fee, total);
    }

    #[test]
    fn no_shows_follow_the_policy() {
        let p = default_policy();
        let o = p.customer_no_show(Money::chf(49)).expect("applies");
        assert_eq!(o.fee, Money::chf(49));
        assert_eq!(o.helper_share, Money::chf(49));
        assert_eq!(o.platform_share, Money::ZERO);
        let h = p.helper_no_show(Money::chf(49)).expect("applies");
        assert_eq!(h.penalty, Money::chf(20));
        assert_eq!(h.refund, Money::chf(49));
        assert_eq!(p.payout_release_at(ts("2026-03-11T10:00:00Z")), Ok(ts("2026-03-25T10:00:00Z")));
    }

    #[test]
    fn an_unvalidated_gapped_policy_reports_no_window() {
        let p = with_windows(vec![window(None, 24, 0)]);
        let start = ts("2026-03-11T09:00:00Z");
        assert_eq!(p.cancellation_fee(Money::chf(49), start, ts("2026-03-11T08:00:00Z")), Err(PolicyError::NoWindowApplies));
    }

    #[test]
    fn a_policy_round_trips_through_json_for_pinning() {
        let p = default_policy();
        let json = serde_json::to_string(&p).expect("serialises");
        assert!(json.contains("\"from_hours_before\":null"), "{json}");
        assert!(json.contains("\"helper_no_show_penalty\":2000"), "{json}");
        let back: Policy = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, p);
    }
}

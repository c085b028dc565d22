//! Upfront quotes: the full price of a visit, line by line, fixed when the booking is made and
//! stored with it as JSON ("locked").
//!
//! Invariants: a quote's `total` is exactly the sum of its lines; the same inputs and
//! configuration always give the same quote (no clock, no randomness, integer Rappen only);
//! every percentage is rounded once, to the Rappen, halves away from zero.
//!
//! The lines, in order:
//! 1. the base price of the service (always present);
//! 2. extra 30-minute units (when any are booked);
//! 3. the travel fee for the distance bucket (always present, CHF 0.00 when free);
//! 4. evening, weekend and urgent surcharges (each when it applies): percentages of base +
//!    extra units, combined additively (never compounded), one line each;
//! 5. VAT on the subtotal of lines 1-4 (only when the helper is VAT-registered);
//! 6. the platform fee on the same subtotal, excluding VAT (only when configured above 0).
//!
//! The helper earns the total less the platform fee ([`Quote::helper_amount`]); VAT is the
//! helper's to remit, so it belongs to the helper's share.

use jiff::{
    SignedDuration, Timestamp,
    civil::{self, Weekday},
};
use quartier_domain::Money;
use serde::{Deserialize, Serialize};

use crate::{
    MAX_EXTRA_UNITS, PricingError, Service,
    rounding::{FULL_BPS, apply_bps, format_bps},
};

pub use quartier_domain::DistanceBucket;

/// The travel fee for each distance bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TravelFees {
    /// Under 1 km (default free).
    #[serde(with = "crate::money_serde")]
    pub under_1km: Money,
    /// 1 to 2 km (default CHF 5).
    #[serde(with = "crate::money_serde")]
    pub from_1_to_2km: Money,
    /// 2 to 5 km (default CHF 10).
    #[serde(with = "crate::money_serde")]
    pub from_2_to_5km: Money,
    /// 5 to 10 km (default CHF 15).
    #[serde(with = "crate::money_serde")]
    pub from_5_to_10km: Money,
    /// Over 10 km (default CHF 20).
    #[serde(with = "crate::money_serde")]
    pub over_10km: Money,
}

impl Default for TravelFees {
    fn default() -> Self {
        Self {
            under_1km: Money::ZERO,
            from_1_to_2km: Money::chf(5),
            from_2_to_5km: Money::chf(10),
            from_5_to_10km: Money::chf(15),
            over_10km: Money::chf(20),
        }
    }
}

impl TravelFees {
    /// The fee for a bucket.
    pub fn fee(&self, bucket: DistanceBucket) -> Money {
        match bucket {
            DistanceBucket::Under1Km => self.under_1km,
            DistanceBucket::From1To2Km => self.from_1_to_2km,
            DistanceBucket::From2To5Km => self.from_2_to_5km,
            DistanceBucket::From5To10Km => self.from_5_to_10km,
            DistanceBucket::Over10Km => self.over_10km,
        }
    }
}

/// Everything about pricing an operator can configure. Rates are in basis points
/// (1 bp = 0.01 %, 10 000 bp = 100 %).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricingConfig {
    /// Travel fee per distance bucket.
    pub travel: TravelFees,
    /// Local wall-clock time from which a start counts as evening (default 19:00).
    pub evening_from: civil::Time,
    /// Evening surcharge (default 2 000 bp = 20 %).
    pub evening_bps: u32,
    /// Surcharge for a start on a local Saturday or Sunday (default 1 500 bp = 15 %).
    pub weekend_bps: u32,
    /// Surcharge for a start soon after booking (default 2 500 bp = 25 %).
    pub urgent_bps: u32,
    /// A start less than this many hours after booking is urgent (default 24).
    pub urgent_within_hours: u32,
    /// Swiss VAT standard rate, charged when the helper is VAT-registered (default 810 bp = 8.1 %).
    pub vat_bps: u32,
    /// Platform fee on the subtotal excluding VAT (default 0: the platform is not financially
    /// involved).
    pub platform_fee_bps: u32,
}

impl Default for PricingConfig {
    fn default() -> Self {
        Self {
            travel: TravelFees::default(),
            evening_from: civil::time(19, 0, 0, 0),
            evening_bps: 2_000,
            weekend_bps: 1_500,
            urgent_bps: 2_500,
            urgent_within_hours: 24,
            vat_bps: 810,
            platform_fee_bps: 0,
        }
    }
}

impl PricingConfig {
    /// Checks that every rate lies in 0..=10 000 bp.
    pub fn validate(&self) -> Result<(), PricingError> {
        let rates = [
            ("evening_bps", self.evening_bps),
            ("weekend_bps", self.weekend_bps),
            ("urgent_bps", self.urgent_bps),
            ("vat_bps", self.vat_bps),
            ("platform_fee_bps", self.platform_fee_bps),
        ];
        for (field, bps) in rates {
            if bps > FULL_BPS {
                return Err(PricingError::InvalidConfig { field });
            }
        }
        Ok(())
    }
}

/// What a quote line is for. The serialised names are stable (translations key on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// The base price of the service for its standard duration.
    Base,
    /// Extra 30-minute units.
    ExtraUnits,
    /// Travel fee for the distance bucket.
    Travel,
    /// Evening surcharge.
    EveningSurcharge,
    /// Weekend surcharge.
    WeekendSurcharge,
    /// Urgent (short-notice) surcharge.
    UrgentSurcharge,
    /// Value added tax of a VAT-registered helper.
    Vat,
    /// The platform's fee.
    PlatformFee,
}

impl LineKind {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            LineKind::Base => "base",
            LineKind::ExtraUnits => "extra_units",
            LineKind::Travel => "travel",
            LineKind::EveningSurcharge => "evening_surcharge",
            LineKind::WeekendSurcharge => "weekend_surcharge",
            LineKind::UrgentSurcharge => "urgent_surcharge",
            LineKind::Vat => "vat",
            LineKind::PlatformFee => "platform_fee",
        }
    }
}

/// One line of a quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteLine {
    /// What the line is for.
    pub kind: LineKind,
    /// A short English label (the UI translates by `kind`).
    pub label: String,
    /// The amount of this line.
    #[serde(with = "crate::money_serde")]
    pub amount: Money,
}

/// A price and how it was reached. Stored with the booking as JSON, so it never changes after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quote {
    /// Base price of the service.
    #[serde(with = "crate::money_serde")]
    pub base: Money,
    /// Number of extra 30-minute units.
    pub extra_units: u32,
    /// Price of those units.
    #[serde(with = "crate::money_serde")]
    pub extra: Money,
    /// What the customer pays: the sum of `lines`.
    #[serde(with = "crate::money_serde")]
    pub total: Money,
    /// Duration of the visit, in minutes.
    pub duration_minutes: u32,
    /// The breakdown; `total` is their sum.
    pub lines: Vec<QuoteLine>,
}

impl Quote {
    /// The sum of all lines of a kind (zero when there is none).
    pub fn amount_of(&self, kind: LineKind) -> Money {
        Money::from_rappen(self.lines.iter().filter(|l| l.kind == kind).map(|l| l.amount.rappen()).sum()).unwrap_or(Money::ZERO)
    }

    /// The platform's fee.
    pub fn platform_fee(&self) -> Money {
        self.amount_of(LineKind::PlatformFee)
    }

    /// The VAT charged for a registered helper.
    pub fn vat(&self) -> Money {
        self.amount_of(LineKind::Vat)
    }

    /// What the helper earns: the total less the platform fee (VAT included: the helper
    /// remits it).
    pub fn helper_amount(&self) -> Money {
        Money::from_rappen(self.total.rappen() - self.platform_fee().rappen()).unwrap_or(Money::ZERO)
    }

    /// The sum of the lines, `None` on overflow.
    pub fn lines_sum(&self) -> Option<Money> {
        self.lines.iter().try_fold(Money::ZERO, |acc, l| acc.checked_add(l.amount))
    }

    /// Whether `total` equals the sum of the lines (always true for quotes made here; useful
    /// when reading a stored quote).
    pub fn is_consistent(&self) -> bool {
        self.lines_sum() == Some(self.total)
    }
}

/// Everything a full quote depends on besides the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuoteRequest<'a> {
    /// The catalogue entry, as it is at booking time.
    pub service: &'a Service,
    /// Extra 30-minute units beyond the standard duration.
    pub extra_units: u32,
    /// How far the helper travels.
    pub distance: DistanceBucket,
    /// The start in the customer's local time (Europe/Zurich by default): decides the evening
    /// and weekend surcharges (the weekday is that of this date).
    pub local_start: civil::DateTime,
    /// When the booking is made.
    pub booked_at: Timestamp,
    /// When the visit starts (the same moment as `local_start`).
    pub start: Timestamp,
    /// Whether the helper is registered for VAT.
    pub helper_vat_registered: bool,
}

/// Prices the service part of a visit: the base price plus any extra 30-minute units, with a
/// `Base` line and, when units are booked, an `ExtraUnits` line. No travel fee, surcharges,
/// VAT or fee: use [`quote_visit`] for the full upfront quote.
pub fn quote(service: &Service, extra_units: u32) -> Result<Quote, PricingError> {
    let mut builder = Builder::new(service, extra_units)?;
    builder.finish()
}

/// The full upfront quote of a visit: base, extra units, travel, surcharges, VAT and platform
/// fee, each its own line.
pub fn quote_visit(request: &QuoteRequest<'_>, config: &PricingConfig) -> Result<Quote, PricingError> {
    config.validate()?;
    let lead = request.start.duration_since(request.booked_at);
    if lead.is_negative() {
        return Err(PricingError::StartBeforeBooking);
    }
    let mut b = Builder::new(request.service, request.extra_units)?;

    let distance = request.distance;
    b.push(LineKind::Travel, format!("Travel ({})", distance.label()), config.travel.fee(distance))?;

    let work = b.work;
    let mut surcharge = |kind: LineKind, name: &str, bps: u32| -> Result<(), PricingError> {
        let amount = apply_bps(work.rappen(), bps).ok_or(PricingError::Overflow)?;
        let amount = Money::from_rappen(amount).map_err(|_| PricingError::Overflow)?;
        b.push(kind, format!("{name} surcharge {}", format_bps(bps)), amount)
    };
    if request.local_start.time() >= config.evening_from && config.evening_bps > 0 {
        surcharge(LineKind::EveningSurcharge, "Evening", config.evening_bps)?;
    }
    let weekday = request.local_start.weekday();
    if matches!(weekday, Weekday::Saturday | Weekday::Sunday) && config.weekend_bps > 0 {
        surcharge(LineKind::WeekendSurcharge, "Weekend", config.weekend_bps)?;
    }
    let urgent_within = SignedDuration::from_hours(i64::from(config.urgent_within_hours));
    if lead < urgent_within && config.urgent_bps > 0 {
        surcharge(LineKind::UrgentSurcharge, "Urgent", config.urgent_bps)?;
    }

    let subtotal = b.running;
    if request.helper_vat_registered {
        let vat = apply_bps(subtotal.rappen(), config.vat_bps).ok_or(PricingError::Overflow)?;
        let vat = Money::from_rappen(vat).map_err(|_| PricingError::Overflow)?;
        b.push(LineKind::Vat, format!("VAT {}", format_bps(config.vat_bps)), vat)?;
    }
    if config.platform_fee_bps > 0 {
        let fee = apply_bps(subtotal.rappen(), config.platform_fee_bps).ok_or(PricingError::Overflow)?;
        let fee = Money::from_rappen(fee).map_err(|_| PricingError::Overflow)?;
        b.push(LineKind::PlatformFee, format!("Platform fee {}", format_bps(config.platform_fee_bps)), fee)?;
    }
    b.finish()
}

/// Accumulates lines and their running sum.
struct Builder<'a> {
    service: &'a Service,
    extra_units: u32,
    extra: Money,
    /// Base + extra units: the basis of the surcharges.
    work: Money,
    running: Money,
    lines: Vec<QuoteLine>,
}

impl<'a> Builder<'a> {
    fn new(service: &'a Service, extra_units: u32) -> Result<Self, PricingError> {
        if extra_units > MAX_EXTRA_UNITS {
            return Err(PricingError::TooManyExtraUnits { max: MAX_EXTRA_UNITS });
        }
        let extra = service.extra_unit_price.checked_mul(i64::from(extra_units)).ok_or(PricingError::Overflow)?;
        let work = service.base_price.checked_add(extra).ok_or(PricingError::Overflow)?;
        let mut b = Self { service, extra_units, extra, work, running: Money::ZERO, lines: Vec::new() };
        b.push(LineKind::Base, format!("{} ({} min)", service.name, service.duration_minutes), service.base_price)?;
        if extra_units > 0 {
            b.push(LineKind::ExtraUnits, format!("{extra_units} × 30 min extra"), extra)?;
        }
        Ok(b)
    }

    fn push(&mut self, kind: LineKind, label: String, amount: Money) -> Result<(), PricingError> {
        self.running = self.running.checked_add(amount).ok_or(PricingError::Overflow)?;
        self.lines.push(QuoteLine { kind, label, amount });
        Ok(())
    }

    fn finish(&mut self) -> Result<Quote, PricingError> {
        let duration_minutes =
            self.extra_units.checked_mul(30).and_then(|m| m.checked_add(self.service.duration_minutes)).ok_or(PricingError::Overflow)?;
        Ok(Quote {
            base: self.service.base_price,
            extra_units: self.extra_units,
            extra: self.extra,
            total: self.running,
            duration_minutes,
            lines: std::mem::take(&mut self.lines),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_catalogue;
    use jiff::civil::date;

    fn service(slug: &str) -> Service {
        default_catalogue().into_iter().find(|s| s.slug == slug).expect("in catalogue")
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    /// Wednesday 2026-03-11 10:00 in Zurich (09:00 UTC), booked a week earlier.
    fn weekday_morning(svc: &Service) -> QuoteRequest<'_> {
        QuoteRequest {
            service: svc,
            extra_units: 0,
            distance: DistanceBucket::Under1Km,
            local_start: date(2026, 3, 11).at(10, 0, 0, 0),
            booked_at: ts("2026-03-04T09:00:00Z"),
            start: ts("2026-03-11T09:00:00Z"),
            helper_vat_registered: false,
        }
    }

    fn kinds(q: &Quote) -> Vec<LineKind> {
        q.lines.iter().map(|l| l.kind).collect()
    }

    #[test]
    fn a_plain_weekday_visit_nearby_costs_the_base_price() {
        let svc = service("guest-wifi");
        let q = quote_visit(&weekday_morning(&svc), &PricingConfig::default()).expect("quotes");
        assert_eq!(q.total, Money::chf(49));
        assert_eq!(kinds(&q), vec![LineKind::Base, LineKind::Travel]);
        assert_eq!(q.amount_of(LineKind::Travel), Money::ZERO);
        assert!(q.is_consistent());
        assert_eq!(q.helper_amount(), q.total);
    }

    #[test]
    fn travel_fees_follow_the_bucket_table() {
        let svc = service("guest-wifi");
        let expected = [0, 5, 10, 15, 20];
        for (bucket, chf) in DistanceBucket::ALL.into_iter().zip(expected) {
            let mut r = weekday_morning(&svc);
            r.distance = bucket;
            let q = quote_visit(&r, &PricingConfig::default()).expect("quotes");
            assert_eq!(q.amount_of(LineKind::Travel), Money::chf(chf), "{bucket:?}");
            assert_eq!(q.total, Money::chf(49 + chf));
        }
    }

    #[test]
    fn evening_weekend_and_urgent_surcharges_add_up_without_compounding() {
        let svc = service("guest-wifi"); // CHF 49, extra unit CHF 20
        let mut r = weekday_morning(&svc);
        r.extra_units = 1; // work = CHF 69
        r.distance = DistanceBucket::From2To5Km; // + CHF 10, not surcharged
        r.local_start = date(2026, 3, 14).at(19, 0, 0, 0); // Saturday 19:00
        r.start = ts("2026-03-14T18:00:00Z");
        r.booked_at = ts("2026-03-14T08:00:00Z"); // 10 h before
        let q = quote_visit(&r, &PricingConfig::default()).expect("quotes");
        assert_eq!(
            kinds(&q),
            vec![
                LineKind::Base,
                LineKind::ExtraUnits,
                LineKind::Travel,
                LineKind::EveningSurcharge,
                LineKind::WeekendSurcharge,
                LineKind::UrgentSurcharge,
            ]
        );
        assert_eq!(q.amount_of(LineKind::EveningSurcharge).rappen(), 1380); // 20 % of 69
        assert_eq!(q.amount_of(LineKind::WeekendSurcharge).rappen(), 1035); // 15 %
        assert_eq!(q.amount_of(LineKind::UrgentSurcharge).rappen(), 1725); // 25 %
        // 69 + 10 + 60 % of 69 = 120.40
        assert_eq!(q.total.rappen(), 12_040);
        assert_eq!(q.duration_minutes, svc.duration_minutes + 30);
        assert!(q.is_consistent());
    }

    #[test]
    fn surcharge_edges_are_exact() {
        let svc = service("guest-wifi");
        let cfg = PricingConfig::default();
        let mut r = weekday_morning(&svc);
        r.local_start = date(2026, 3, 11).at(18, 59, 59, 999_999_999);
        let q = quote_visit(&r, &cfg).expect("quotes");
        assert_eq!(q.amount_of(LineKind::EveningSurcharge), Money::ZERO);
        // Exactly 24 h ahead is not urgent; a second less is.
        r.booked_at = ts("2026-03-10T09:00:00Z");
        let q = quote_visit(&r, &cfg).expect("quotes");
        assert_eq!(q.amount_of(LineKind::UrgentSurcharge), Money::ZERO);
        r.booked_at = ts("2026-03-10T09:00:01Z");
        let q = quote_visit(&r, &cfg).expect("quotes");
        assert_eq!(q.amount_of(LineKind::UrgentSurcharge).rappen(), 1225);
        // Sunday counts as weekend, Monday does not.
        r.local_start = date(2026, 3, 15).at(10, 0, 0, 0);
        let q = quote_visit(&r, &cfg).expect("quotes");
        assert_eq!(q.amount_of(LineKind::WeekendSurcharge).rappen(), 735);
        r.local_start = date(2026, 3, 16).at(10, 0, 0, 0);
        let q = quote_visit(&r, &cfg).expect("quotes");
        assert_eq!(q.amount_of(LineKind::WeekendSurcharge), Money::ZERO);
    }

    #[test]
    fn vat_is_charged_only_for_registered_helpers_and_rounded_to_the_rappen() {
        let svc = service("guest-wifi");
        let mut r = weekday_morning(&svc);
        r.distance = DistanceBucket::From1To2Km; // subtotal 54.00
        let q = quote_visit(&r, &PricingConfig::default()).expect("quotes");
        assert_eq!(q.vat(), Money::ZERO);
        r.helper_vat_registered = true;
        let q = quote_visit(&r, &PricingConfig::default()).expect("quotes");
        // 8.1 % of 54.00 = 4.374 → 4.37
        assert_eq!(q.vat().rappen(), 437);
        assert_eq!(q.total.rappen(), 5_837);
        assert_eq!(q.lines.last().map(|l| l.label.as_str()), Some("VAT 8.1%"));
        // 8.1 % of 49.00 = 3.969 → 3.97
        r.distance = DistanceBucket::Under1Km;
        let q = quote_visit(&r, &PricingConfig::default()).expect("quotes");
        assert_eq!(q.vat().rappen(), 397);
    }

    #[test]
    fn the_platform_fee_is_its_own_line_and_not_the_helpers() {
        let svc = service("pc-cleanup"); // CHF 79
        let mut r = weekday_morning(&svc);
        r.helper_vat_registered = true;
        let cfg = PricingConfig { platform_fee_bps: 500, ..PricingConfig::default() };
        let q = quote_visit(&r, &cfg).expect("quotes");
        assert_eq!(q.lines.last().map(|l| l.kind), Some(LineKind::PlatformFee));
        assert_eq!(q.platform_fee().rappen(), 395); // 5 % of 79.00, VAT excluded
        assert_eq!(q.vat().rappen(), 640); // 8.1 % of 79.00 = 6.399
        assert_eq!(q.total.rappen(), 7_900 + 640 + 395);
        assert_eq!(q.helper_amount().rappen(), 7_900 + 640);
        assert!(q.is_consistent());
    }

    #[test]
    fn bad_inputs_are_refused() {
        let svc = service("guest-wifi");
        let mut r = weekday_morning(&svc);
        r.booked_at = ts("2026-03-11T09:00:01Z");
        assert_eq!(quote_visit(&r, &PricingConfig::default()), Err(PricingError::StartBeforeBooking));
        let r = weekday_morning(&svc);
        let cfg = PricingConfig { vat_bps: 10_001, ..PricingConfig::default() };
        assert_eq!(quote_visit(&r, &cfg).map_err(|e| e.code()), Err("invalid_pricing_config"));
        let mut r = weekday_morning(&svc);
        r.extra_units = MAX_EXTRA_UNITS + 1;
        assert!(matches!(quote_visit(&r, &PricingConfig::default()), Err(PricingError::TooManyExtraUnits { .. })));
    }

    #[test]
    fn a_quote_round_trips_through_json_for_locking() {
        let svc = service("smart-home");
        let mut r = weekday_morning(&svc);
        r.extra_units = 2;
        r.helper_vat_registered = true;
        r.distance = DistanceBucket::Over10Km;
        let q = quote_visit(&r, &PricingConfig::default()).expect("quotes");
        let json = serde_json::to_string(&q).expect("serialises");
        assert!(json.contains("\"kind\":\"vat\""), "{json}");
        assert!(json.contains("\"total\":"), "{json}");
        let back: Quote = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, q);
        let negative = json.replacen("\"total\":", "\"total\":-", 1);
        assert!(serde_json::from_str::<Quote>(&negative).is_err());
    }

    #[test]
    fn the_config_round_trips_through_json() {
        let cfg = PricingConfig::default();
        let json = serde_json::to_string(&cfg).expect("serialises");
        assert!(json.contains("\"evening_from\":\"19:00:00\""), "{json}");
        let back: PricingConfig = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, cfg);
    }

    #[test]
    fn distance_buckets_use_the_matching_wire_names_and_edges() {
        for b in DistanceBucket::ALL {
            assert_eq!(DistanceBucket::parse(b.as_str()), Some(b));
            let json = serde_json::to_string(&b).expect("serialises");
            assert_eq!(json, format!("\"{}\"", b.as_str()));
        }
        assert_eq!(DistanceBucket::parse("3km"), None);
        assert_eq!(DistanceBucket::of_metres(999.0), DistanceBucket::Under1Km);
        assert_eq!(DistanceBucket::of_metres(1_000.0), DistanceBucket::From1To2Km);
        assert_eq!(DistanceBucket::of_metres(9_999.0), DistanceBucket::From5To10Km);
        assert_eq!(DistanceBucket::of_metres(10_000.0), DistanceBucket::Over10Km);
    }

    #[test]
    fn the_service_only_quote_keeps_its_old_shape() {
        let svc = service("guest-wifi");
        let q = quote(&svc, 2).expect("quotes");
        assert_eq!(kinds(&q), vec![LineKind::Base, LineKind::ExtraUnits]);
        assert_eq!(q.extra, Money::chf(40));
        assert!(q.is_consistent());
    }
}

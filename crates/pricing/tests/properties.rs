//! Property tests of quartier-pricing through its public API. Case counts are set explicitly
//! per block (see `ProptestConfig::with_cases`).

use jiff::{SignedDuration, Timestamp, civil};
use proptest::prelude::*;
use quartier_domain::Money;
use quartier_pricing::{
    DistanceBucket, LineKind, MAX_EXTRA_UNITS, PricingConfig, Quote, QuoteRequest, Service, TravelFees, default_catalogue, default_policy,
    ledger::{self, Account, Balances, LedgerError, PaymentMethod, PayoutChannel, Posting, Transaction, TransactionKind},
    policy::{Policy, Window},
    quote_visit, round_5_rappen,
};

/// Cases for the cheap arithmetic properties.
const ROUNDING_CASES: u32 = 10_000;
/// Cases for single quotes.
const QUOTE_CASES: u32 = 2_000;
/// Cases for single transactions made from random postings.
const POSTING_CASES: u32 = 5_000;
/// Cases for random sequences of ledger operations (each up to 60 operations on 3 bookings).
const SEQUENCE_CASES: u32 = 1_000;
/// Cases for random policies.
const POLICY_CASES: u32 = 1_000;

fn rp(r: i64) -> Money {
    Money::from_rappen(r).expect("non-negative")
}

// ---------------------------------------------------------------------------------------------
// 5-Rappen rounding

proptest! {
    #![proptest_config(ProptestConfig::with_cases(ROUNDING_CASES))]

    #[test]
    fn cash_rounding_is_a_near_symmetric_multiple_of_5(r in -1_000_000_000_000_000i64..=1_000_000_000_000_000) {
        let rounded = round_5_rappen(r);
        prop_assert_eq!(rounded % 5, 0);
        prop_assert!((rounded - r).abs() <= 2);
        prop_assert_eq!(round_5_rappen(-r), -rounded);
        prop_assert_eq!(round_5_rappen(rounded), rounded);
        // Nearest: no other multiple of 5 is closer.
        prop_assert!((rounded + 5 - r).abs() >= (rounded - r).abs());
        prop_assert!((rounded - 5 - r).abs() >= (rounded - r).abs());
    }

    #[test]
    fn cash_rounding_is_monotonic(a in -1_000_000_000i64..1_000_000_000, d in 0i64..1_000) {
        prop_assert!(round_5_rappen(a) <= round_5_rappen(a + d));
    }
}

// ---------------------------------------------------------------------------------------------
// Quotes

fn arb_service() -> impl Strategy<Value = Service> {
    let catalogue = default_catalogue();
    let n = catalogue.len();
    prop_oneof![
        (0..n).prop_map(move |i| catalogue[i].clone()),
        (0i64..1_000_000, 0i64..100_000, 15u32..600).prop_map(|(base, extra, minutes)| Service {
            slug: "custom".into(),
            name: "Custom".into(),
            description: String::new(),
            skill: "computer".into(),
            base_price: rp(base),
            duration_minutes: minutes,
            extra_unit_price: rp(extra),
        }),
    ]
}

fn arb_config() -> impl Strategy<Value = PricingConfig> {
    (prop::array::uniform5(0i64..10_000), 0u32..24, prop::array::uniform6(0u32..=10_000)).prop_map(|(fees, evening_hour, bps)| {
        PricingConfig {
            travel: TravelFees {
                under_1km: rp(fees[0]),
                from_1_to_2km: rp(fees[1]),
                from_2_to_5km: rp(fees[2]),
                from_5_to_10km: rp(fees[3]),
                over_10km: rp(fees[4]),
            },
            evening_from: civil::time(i8::try_from(evening_hour).unwrap_or(19), 0, 0, 0),
            evening_bps: bps[0],
            weekend_bps: bps[1],
            urgent_bps: bps[2],
            urgent_within_hours: bps[3] % 100,
            vat_bps: bps[4],
            platform_fee_bps: bps[5],
        }
    })
}

fn arb_config_or_default() -> impl Strategy<Value = PricingConfig> {
    prop_oneof![Just(PricingConfig::default()), arb_config()]
}

#[derive(Debug, Clone)]
struct QuoteInput {
    service: Service,
    extra_units: u32,
    distance: DistanceBucket,
    local_start: civil::DateTime,
    booked_at: Timestamp,
    start: Timestamp,
    vat: bool,
}

fn arb_quote_input() -> impl Strategy<Value = QuoteInput> {
    (
        arb_service(),
        0..=MAX_EXTRA_UNITS,
        0usize..5,
        // Minutes from 2024-01-01 00:00 UTC over about six years.
        0i64..3_200_000,
        // Lead time in minutes: up to 60 days.
        0i64..86_400,
        any::<bool>(),
    )
        .prop_map(|(service, extra_units, bucket, start_min, lead_min, vat)| {
            let epoch: Timestamp = "2024-01-01T00:00:00Z".parse().expect("timestamp");
            let start = epoch + SignedDuration::from_mins(start_min);
            let booked_at = start - SignedDuration::from_mins(lead_min);
            let zurich = jiff::tz::TimeZone::get("Europe/Zurich").expect("zone");
            let local_start = start.to_zoned(zurich).datetime();
            QuoteInput { service, extra_units, distance: DistanceBucket::ALL[bucket], local_start, booked_at, start, vat }
        })
}

fn quote_of(input: &QuoteInput, config: &PricingConfig) -> Quote {
    quote_visit(
        &QuoteRequest {
            service: &input.service,
            extra_units: input.extra_units,
            distance: input.distance,
            local_start: input.local_start,
            booked_at: input.booked_at,
            start: input.start,
            helper_vat_registered: input.vat,
        },
        config,
    )
    .expect("valid inputs quote")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(QUOTE_CASES))]

    #[test]
    fn quotes_are_deterministic_and_total_the_sum_of_their_lines(
        input in arb_quote_input(),
        config in arb_config_or_default(),
    ) {
        let q = quote_of(&input, &config);
        prop_assert_eq!(&quote_of(&input, &config), &q);
        let sum: i64 = q.lines.iter().map(|l| l.amount.rappen()).sum();
        prop_assert_eq!(q.total.rappen(), sum);
        prop_assert!(q.is_consistent());
        prop_assert_eq!(q.helper_amount().rappen() + q.platform_fee().rappen(), q.total.rappen());
        prop_assert_eq!(q.duration_minutes, input.service.duration_minutes + 30 * input.extra_units);
        prop_assert_eq!(q.lines[0].kind, LineKind::Base);
        prop_assert_eq!(q.amount_of(LineKind::Travel), config.travel.fee(input.distance));
        if !input.vat {
            prop_assert_eq!(q.vat(), Money::ZERO);
        }
        // Each surcharge is its percentage of base + extra units, rounded to the Rappen.
        let work = q.base.rappen() + q.extra.rappen();
        for (kind, bps) in [
            (LineKind::EveningSurcharge, config.evening_bps),
            (LineKind::WeekendSurcharge, config.weekend_bps),
            (LineKind::UrgentSurcharge, config.urgent_bps),
        ] {
            let amount = q.amount_of(kind).rappen();
            if amount > 0 {
                let exact = i128::from(work) * i128::from(bps);
                prop_assert!((i128::from(amount) * 10_000 - exact).abs() <= 5_000);
            }
        }
        // Locked as JSON, read back identical.
        let json = serde_json::to_string(&q).expect("serialises");
        let back: Quote = serde_json::from_str(&json).expect("deserialises");
        prop_assert_eq!(back, q);
    }

    #[test]
    fn surcharges_never_lower_a_price(input in arb_quote_input()) {
        let config = PricingConfig::default();
        let plain = PricingConfig { evening_bps: 0, weekend_bps: 0, urgent_bps: 0, ..config.clone() };
        prop_assert!(quote_of(&input, &config).total >= quote_of(&input, &plain).total);
    }
}

// ---------------------------------------------------------------------------------------------
// Transactions from random postings

fn arb_account() -> impl Strategy<Value = Account> {
    (0usize..Account::ALL.len()).prop_map(|i| Account::ALL[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(POSTING_CASES))]

    #[test]
    fn a_transaction_exists_only_when_balanced(
        raw in prop::collection::vec((arb_account(), -1_000_000i64..1_000_000), 0..6),
        balance_it in any::<bool>(),
    ) {
        let mut postings: Vec<Posting> = raw
            .into_iter()
            .map(|(account, amount_rappen)| Posting { account, amount_rappen })
            .collect();
        if balance_it {
            let sum: i64 = postings.iter().map(|p| p.amount_rappen).sum();
            postings.push(Posting { account: Account::Bank, amount_rappen: -sum });
        }
        let sum: i64 = postings.iter().map(|p| p.amount_rappen).sum();
        let non_zero = postings.iter().any(|p| p.amount_rappen != 0);
        match Transaction::new(TransactionKind::Penalty, postings) {
            Ok(t) => {
                prop_assert_eq!(sum, 0);
                prop_assert!(non_zero);
                prop_assert_eq!(t.postings().iter().map(|p| p.amount_rappen).sum::<i64>(), 0);
                prop_assert!(t.postings().iter().all(|p| p.amount_rappen != 0));
            }
            Err(LedgerError::EmptyTransaction) => prop_assert!(!non_zero),
            Err(LedgerError::Unbalanced { sum: s }) => {
                prop_assert_ne!(sum, 0);
                prop_assert_eq!(s, i128::from(sum));
            }
            Err(e) => prop_assert!(false, "unexpected {e:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Random sequences of ledger operations

const BOOKINGS: usize = 3;

#[derive(Debug, Clone)]
enum Op {
    Complete { service: usize, extra_units: u32, vat: bool, fee_bps: u32 },
    Cancel { total: i64, minutes_before: i64 },
    CustomerNoShow { total: i64 },
    HelperNoShow,
    Pay { method: PaymentMethod, amount: Option<i64> },
    Settle { commission_bps: u32 },
    Release { hours_after: i64 },
    Payout { channel: PayoutChannel, amount: Option<i64> },
    FullRefund,
    PartialRefund { amount: i64 },
    RefundPaid { method: PaymentMethod, amount: Option<i64> },
    Penalty { amount: i64 },
}

fn arb_method() -> impl Strategy<Value = PaymentMethod> {
    prop_oneof![Just(PaymentMethod::Invoice), Just(PaymentMethod::Card), Just(PaymentMethod::Cash)]
}

fn arb_op() -> impl Strategy<Value = Op> {
    let n = default_catalogue().len();
    prop_oneof![
        3 => (0..n, 0..=MAX_EXTRA_UNITS, any::<bool>(), 0u32..2_000).prop_map(
            |(service, extra_units, vat, fee_bps)| Op::Complete { service, extra_units, vat, fee_bps }
        ),
        1 => (1i64..20_000, -120i64..4_000).prop_map(|(total, minutes_before)| Op::Cancel { total, minutes_before }),
        1 => (1i64..20_000).prop_map(|total| Op::CustomerNoShow { total }),
        1 => Just(Op::HelperNoShow),
        3 => (arb_method(), prop::option::of(1i64..20_000)).prop_map(|(method, amount)| Op::Pay { method, amount }),
        1 => (0u32..500).prop_map(|commission_bps| Op::Settle { commission_bps }),
        2 => (0i64..200).prop_map(|hours_after| Op::Release { hours_after }),
        2 => (
            prop_oneof![Just(PayoutChannel::BankTransfer), Just(PayoutChannel::CashCollected)],
            prop::option::of(1i64..20_000),
        ).prop_map(|(channel, amount)| Op::Payout { channel, amount }),
        1 => Just(Op::FullRefund),
        2 => (1i64..20_000).prop_map(|amount| Op::PartialRefund { amount }),
        2 => (arb_method(), prop::option::of(1i64..20_000)).prop_map(|(method, amount)| Op::RefundPaid { method, amount }),
        1 => (1i64..5_000).prop_map(|amount| Op::Penalty { amount }),
    ]
}

fn completed_at() -> Timestamp {
    "2026-03-11T10:00:00Z".parse().expect("timestamp")
}

fn run_op(op: &Op, b: &Balances, policy: &Policy) -> Result<Transaction, LedgerError> {
    match *op {
        Op::Complete { service, extra_units, vat, fee_bps } => {
            let svc = &default_catalogue()[service];
            let start = completed_at();
            let q = quote_visit(
                &QuoteRequest {
                    service: svc,
                    extra_units,
                    distance: DistanceBucket::From2To5Km,
                    local_start: civil::date(2026, 3, 11).at(11, 0, 0, 0),
                    booked_at: start - SignedDuration::from_hours(3),
                    start,
                    helper_vat_registered: vat,
                },
                &PricingConfig { platform_fee_bps: fee_bps, ..PricingConfig::default() },
            )
            .expect("quotes");
            ledger::booking_completed(&q)
        }
        Op::Cancel { total, minutes_before } => {
            let start = completed_at();
            let at = start - SignedDuration::from_mins(minutes_before);
            let o = policy.cancellation_fee(rp(total), start, at).expect("valid policy");
            ledger::cancellation_fee(&o)
        }
        Op::CustomerNoShow { total } => ledger::customer_no_show(&policy.customer_no_show(rp(total)).expect("valid policy")),
        Op::HelperNoShow => {
            let o = policy.helper_no_show(rp(b.customer_credit())).expect("valid policy");
            ledger::helper_no_show(b, &o)
        }
        Op::Pay { method, amount } => {
            let amount = amount.unwrap_or(b.customer_owes().max(0));
            ledger::payment_received(method, rp(amount))
        }
        Op::Settle { commission_bps } => {
            let gross = b.balance(Account::CardClearing).max(0);
            let commission = gross * i64::from(commission_bps) / 10_000;
            ledger::card_settled(b, rp(gross), rp(commission))
        }
        Op::Release { hours_after } => {
            ledger::release_payout(b, completed_at(), completed_at() + SignedDuration::from_hours(hours_after), policy.dispute_window())
        }
        Op::Payout { channel, amount } => {
            let amount = amount.unwrap_or(b.payable_to_helper().max(0));
            ledger::payout_paid(b, rp(amount), channel)
        }
        Op::FullRefund => ledger::full_refund(b),
        Op::PartialRefund { amount } => ledger::partial_refund(b, rp(amount)),
        Op::RefundPaid { method, amount } => {
            let amount = amount.unwrap_or(b.customer_credit());
            ledger::refund_paid(b, rp(amount), method)
        }
        Op::Penalty { amount } => ledger::penalty(b, rp(amount)),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(SEQUENCE_CASES))]

    #[test]
    fn the_books_balance_and_payouts_stay_non_negative_under_any_sequence(
        ops in prop::collection::vec((0..BOOKINGS, arb_op()), 1..60),
    ) {
        let policy = default_policy();
        let mut books: Vec<Balances> = vec![Balances::new(); BOOKINGS];
        let mut journals: Vec<Vec<Transaction>> = vec![Vec::new(); BOOKINGS];
        let mut all = Balances::new();
        let mut posted = 0usize;
        for (booking, op) in &ops {
            let b = &mut books[*booking];
            let Ok(t) = run_op(op, b, &policy) else { continue };
            posted += 1;
            // Every transaction balances and has no zero posting.
            prop_assert_eq!(t.postings().iter().map(|p| i128::from(p.amount_rappen)).sum::<i128>(), 0);
            prop_assert!(t.postings().iter().all(|p| p.amount_rappen != 0));
            // Storing and reading it back gives the same transaction.
            let json = serde_json::to_string(&t).expect("serialises");
            let back: Transaction = serde_json::from_str(&json).expect("reads");
            prop_assert_eq!(&back, &t);

            b.apply(&t).expect("no overflow");
            all.apply(&t).expect("no overflow");
            journals[*booking].push(t);

            // The sum over all accounts stays zero, per booking and overall.
            prop_assert_eq!(b.sum(), 0);
            prop_assert_eq!(all.sum(), 0);
            // What the platform owes the helper never goes negative.
            prop_assert!(b.held_for_helper() >= 0, "held {}", b.held_for_helper());
            prop_assert!(b.payable_to_helper() >= 0, "payable {}", b.payable_to_helper());
            prop_assert!(b.balance(Account::HelperReceivable) >= 0);
            // Refunds never exceed charges; the platform's part stays within them.
            prop_assert!(b.charged() >= 0);
            prop_assert!((0..=b.charged()).contains(&b.platform_charged()));
            // What is still owed to the helper never exceeds the helper's part of the charges.
            prop_assert!(b.held_for_helper() + b.payable_to_helper() <= b.charged() - b.platform_charged());
        }
        // Folding the journals again gives the same balances.
        let mut global = Balances::new();
        for (i, journal) in journals.iter().enumerate() {
            prop_assert_eq!(&Balances::from_transactions(journal).expect("folds"), &books[i]);
            for t in journal {
                global.apply(t).expect("no overflow");
            }
        }
        for account in Account::ALL {
            prop_assert_eq!(global.balance(account), all.balance(account));
            let per_booking: i64 = books.iter().map(|b| b.balance(account)).sum();
            prop_assert_eq!(per_booking, all.balance(account));
        }
        prop_assert!(posted <= ops.len());
    }
}

// ---------------------------------------------------------------------------------------------
// Policies

/// A valid policy: strictly increasing cut points in hours, with a fee per window.
fn arb_policy() -> impl Strategy<Value = Policy> {
    (prop::collection::btree_set(1u32..500, 0..5), prop::collection::vec(0u32..=10_000, 6), 0u32..=10_000, any::<bool>()).prop_map(
        |(cuts, fees, helper_bps, reverse)| {
            let cuts: Vec<u32> = cuts.into_iter().collect();
            let mut windows = Vec::new();
            let mut to = 0;
            for (i, &cut) in cuts.iter().enumerate() {
                windows.push(Window { from_hours_before: Some(cut), to_hours_before: to, fee_bps: fees[i] });
                to = cut;
            }
            windows.push(Window { from_hours_before: None, to_hours_before: to, fee_bps: fees[5] });
            if reverse {
                windows.reverse();
            }
            Policy { customer_cancellation: windows, helper_compensation_bps: helper_bps, ..default_policy() }
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(POLICY_CASES))]

    #[test]
    fn valid_policies_put_every_cancellation_in_exactly_one_window(
        policy in arb_policy(),
        total in 0i64..1_000_000,
        minutes_before in -1_000i64..40_000,
    ) {
        prop_assert_eq!(policy.validate(), Ok(()));
        let start = completed_at();
        let at = start - SignedDuration::from_mins(minutes_before);
        let notice = start.duration_since(at);
        let covering = policy.customer_cancellation.iter().filter(|w| w.covers(notice)).count();
        prop_assert_eq!(covering, 1);
        let o = policy.cancellation_fee(rp(total), start, at).expect("applies");
        prop_assert!(o.fee.rappen() <= total);
        prop_assert_eq!(o.helper_share.rappen() + o.platform_share.rappen(), o.fee.rappen());
        let t = ledger::cancellation_fee(&o);
        match t {
            Ok(t) => prop_assert_eq!(t.postings().iter().map(|p| p.amount_rappen).sum::<i64>(), 0),
            Err(e) => prop_assert_eq!(e, LedgerError::NothingToPost),
        }
    }

    #[test]
    fn moving_an_inner_edge_makes_a_gap_or_an_overlap(
        policy in arb_policy(),
        pick in any::<prop::sample::Index>(),
        shift in prop_oneof![-50i64..0, 1i64..50],
    ) {
        let mut p = policy;
        let inner: Vec<usize> = p
            .customer_cancellation
            .iter()
            .enumerate()
            .filter(|(_, w)| w.to_hours_before > 0)
            .map(|(i, _)| i)
            .collect();
        prop_assume!(!inner.is_empty());
        let i = inner[pick.index(inner.len())];
        let w = &mut p.customer_cancellation[i];
        let moved = i64::from(w.to_hours_before) + shift;
        prop_assume!(moved >= 0 && w.from_hours_before.is_none_or(|f| moved < i64::from(f)));
        w.to_hours_before = u32::try_from(moved).expect("non-negative");
        let code = p.validate().map_err(|e| e.code());
        prop_assert!(
            code == Err("gapped_windows") || code == Err("overlapping_windows"),
            "{code:?}"
        );
    }
}

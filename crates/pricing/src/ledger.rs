//! The double-entry ledger: every money movement of a booking is one balanced transaction.
//!
//! Invariants:
//! - a [`Transaction`] can only be made balanced (its postings sum to zero) and non-empty, by
//!   [`Transaction::new`] or by deserialising, which runs the same checks; so the sum over all
//!   accounts of any sequence of transactions is zero;
//! - what the platform owes a helper ([`Account::HelperPayoutHeld`] and
//!   [`Account::HelperPayable`]) never becomes negative: refunds and penalties take from it
//!   only what is there; a refund that would need more is refused
//!   ([`LedgerError::InsufficientHelperFunds`]), and a penalty larger than what is owed to the
//!   helper becomes a claim on the helper ([`Account::HelperReceivable`]);
//! - refunds never exceed what was charged, and refunds paid out never exceed the customer's
//!   credit.
//!
//! Sign convention: a posting's `amount_rappen` is positive for a debit and negative for a
//! credit. Asset and expense accounts normally carry debit (positive) balances; liability and
//! income accounts credit (negative) balances.
//!
//! # The chart of accounts
//! The books are the platform's, kept per booking (a [`Balances`] is one booking's view; the
//! store keeps the transactions and can sum them per helper or overall).
//!
//! | account | type | holds |
//! | --- | --- | --- |
//! | `customer_receivable` | asset | what customers owe; a credit balance is a customer's credit (a refund due) |
//! | `bank` | asset | the platform's bank account: invoice payments in, payouts and refunds out |
//! | `card_clearing` | asset | card payments captured, not yet settled by the acquirer |
//! | `cash` | asset | cash taken on site, in the helper's hands until settled |
//! | `helper_receivable` | asset | what helpers owe the platform (penalties beyond their payout) |
//! | `helper_payout_held` | liability | owed to helpers, held until the dispute window closes |
//! | `helper_payable` | liability | owed to helpers, released and due for payout |
//! | `platform_revenue` | income | platform fees, the platform's share of cancellation and no-show fees, penalties |
//! | `payment_fees` | expense | the card acquirer's commission |
//! | `cash_rounding` | income/expense | 5-Rappen cash rounding differences |
//!
//! VAT of a VAT-registered helper is part of the helper's payout: the helper, not the
//! platform, owes it to the tax administration, so there is no VAT account here. A refund
//! debits the revenue it reverses rather than a separate "refunds" account; its transaction
//! kind says it was a refund.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use quartier_domain::Money;
use serde::{Deserialize, Serialize};

use crate::{
    policy::{FeeOutcome, HelperNoShowOutcome},
    quote::Quote,
    rounding::{apply_ratio, round_5_rappen},
};

/// An account of the chart (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Account {
    /// Asset: what customers owe (credit balance: customer credit).
    CustomerReceivable,
    /// Asset: the platform's bank account.
    Bank,
    /// Asset: card payments awaiting settlement by the acquirer.
    CardClearing,
    /// Asset: cash taken on site.
    Cash,
    /// Asset: what helpers owe the platform.
    HelperReceivable,
    /// Liability: owed to helpers, held during the dispute window.
    HelperPayoutHeld,
    /// Liability: owed to helpers, released.
    HelperPayable,
    /// Income: platform fees, fee shares and penalties.
    PlatformRevenue,
    /// Expense: card acquirer commission.
    PaymentFees,
    /// Income or expense: 5-Rappen cash rounding differences.
    CashRounding,
}

impl Account {
    /// Every account, in chart order.
    pub const ALL: [Account; 10] = [
        Account::CustomerReceivable,
        Account::Bank,
        Account::CardClearing,
        Account::Cash,
        Account::HelperReceivable,
        Account::HelperPayoutHeld,
        Account::HelperPayable,
        Account::PlatformRevenue,
        Account::PaymentFees,
        Account::CashRounding,
    ];

    /// The stable snake_case name (for storage).
    pub fn as_str(self) -> &'static str {
        match self {
            Account::CustomerReceivable => "customer_receivable",
            Account::Bank => "bank",
            Account::CardClearing => "card_clearing",
            Account::Cash => "cash",
            Account::HelperReceivable => "helper_receivable",
            Account::HelperPayoutHeld => "helper_payout_held",
            Account::HelperPayable => "helper_payable",
            Account::PlatformRevenue => "platform_revenue",
            Account::PaymentFees => "payment_fees",
            Account::CashRounding => "cash_rounding",
        }
    }

    /// The account with this stable name, if any.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// How a customer pays, or is paid back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentMethod {
    /// Bank transfer against an invoice (QR-bill): lands in [`Account::Bank`].
    Invoice,
    /// Card: lands in [`Account::CardClearing`].
    Card,
    /// Cash on site, rounded to 5 Rappen: lands in [`Account::Cash`].
    Cash,
}

impl PaymentMethod {
    fn account(self) -> Account {
        match self {
            PaymentMethod::Invoice => Account::Bank,
            PaymentMethod::Card => Account::CardClearing,
            PaymentMethod::Cash => Account::Cash,
        }
    }
}

/// How a helper's payout is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayoutChannel {
    /// A transfer from the platform's bank account.
    BankTransfer,
    /// The helper keeps cash they took on site for the booking.
    CashCollected,
}

/// What a transaction records. Serialised internally tagged: `{"type":"payment_received",
/// "method":"cash"}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TransactionKind {
    /// The visit was done: the customer owes the total.
    BookingCompleted,
    /// The customer paid.
    PaymentReceived {
        /// How.
        method: PaymentMethod,
    },
    /// The acquirer settled card payments to the bank, less its commission.
    CardSettled,
    /// The dispute window closed: the helper's payout is released.
    PayoutReleased,
    /// The helper was paid out.
    PayoutPaid {
        /// How.
        channel: PayoutChannel,
    },
    /// The customer cancelled late and owes a fee.
    CancellationFee,
    /// The customer was not there and owes a fee.
    CustomerNoShow,
    /// The helper did not come and owes a penalty.
    HelperNoShowPenalty,
    /// Another penalty charged to the helper.
    Penalty,
    /// Everything charged for the booking is refunded.
    FullRefund,
    /// Part of what was charged is refunded.
    PartialRefund,
    /// Customer credit was paid back.
    RefundPaid {
        /// How.
        method: PaymentMethod,
    },
}

impl TransactionKind {
    /// The stable snake_case name of the kind (without its details).
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionKind::BookingCompleted => "booking_completed",
            TransactionKind::PaymentReceived { .. } => "payment_received",
            TransactionKind::CardSettled => "card_settled",
            TransactionKind::PayoutReleased => "payout_released",
            TransactionKind::PayoutPaid { .. } => "payout_paid",
            TransactionKind::CancellationFee => "cancellation_fee",
            TransactionKind::CustomerNoShow => "customer_no_show",
            TransactionKind::HelperNoShowPenalty => "helper_no_show_penalty",
            TransactionKind::Penalty => "penalty",
            TransactionKind::FullRefund => "full_refund",
            TransactionKind::PartialRefund => "partial_refund",
            TransactionKind::RefundPaid { .. } => "refund_paid",
        }
    }

    /// Whether this kind charges the customer (and so can be refunded).
    pub fn is_charge(self) -> bool {
        matches!(self, TransactionKind::BookingCompleted | TransactionKind::CancellationFee | TransactionKind::CustomerNoShow)
    }

    /// Whether this kind reverses a charge.
    pub fn is_refund(self) -> bool {
        matches!(self, TransactionKind::FullRefund | TransactionKind::PartialRefund)
    }
}

/// One side of a transaction: a debit (positive) or a credit (negative) to an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The account.
    pub account: Account,
    /// Rappen; positive debits, negative credits.
    pub amount_rappen: i64,
}

impl Posting {
    /// A debit of `amount` to `account`.
    pub fn debit(account: Account, amount: Money) -> Self {
        Self { account, amount_rappen: amount.rappen() }
    }

    /// A credit of `amount` to `account`.
    pub fn credit(account: Account, amount: Money) -> Self {
        Self { account, amount_rappen: -amount.rappen() }
    }
}

/// A balanced set of postings. It cannot exist unbalanced or empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawTransaction")]
pub struct Transaction {
    kind: TransactionKind,
    postings: Vec<Posting>,
}

#[derive(Deserialize)]
struct RawTransaction {
    kind: TransactionKind,
    postings: Vec<Posting>,
}

impl TryFrom<RawTransaction> for Transaction {
    type Error = LedgerError;

    fn try_from(raw: RawTransaction) -> Result<Self, Self::Error> {
        Transaction::new(raw.kind, raw.postings)
    }
}

impl Transaction {
    /// A transaction of `postings`, with zero postings dropped. Refused when nothing is left
    /// ([`LedgerError::EmptyTransaction`]) or the postings do not sum to zero
    /// ([`LedgerError::Unbalanced`]).
    pub fn new(kind: TransactionKind, postings: Vec<Posting>) -> Result<Self, LedgerError> {
        let postings: Vec<Posting> = postings.into_iter().filter(|p| p.amount_rappen != 0).collect();
        if postings.is_empty() {
            return Err(LedgerError::EmptyTransaction);
        }
        let sum: i128 = postings.iter().map(|p| i128::from(p.amount_rappen)).sum();
        if sum != 0 {
            return Err(LedgerError::Unbalanced { sum });
        }
        Ok(Self { kind, postings })
    }

    /// What the transaction records.
    pub fn kind(&self) -> TransactionKind {
        self.kind
    }

    /// Its postings (none zero; they sum to zero).
    pub fn postings(&self) -> &[Posting] {
        &self.postings
    }

    /// The net amount posted to `account` (positive: debit).
    pub fn amount_for(&self, account: Account) -> i64 {
        self.postings.iter().filter(|p| p.account == account).map(|p| p.amount_rappen).sum()
    }

    /// The total debited (equal to the total credited).
    pub fn volume(&self) -> i64 {
        self.postings.iter().map(|p| p.amount_rappen.max(0)).sum()
    }
}

/// Why a ledger transaction cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LedgerError {
    /// No non-zero postings.
    #[error("a transaction needs at least one non-zero posting")]
    EmptyTransaction,
    /// The postings do not sum to zero.
    #[error("the postings do not balance (sum {sum} Rappen)")]
    Unbalanced {
        /// Their sum.
        sum: i128,
    },
    /// An amount out of range.
    #[error("an amount is out of range")]
    Overflow,
    /// The movement would be of zero Rappen.
    #[error("there is nothing to post")]
    NothingToPost,
    /// The helper's side of a refund is more than is still owed to the helper.
    #[error("the helper's share needs {needed} Rappen but only {available} are still owed to the helper")]
    InsufficientHelperFunds {
        /// Rappen the helper's side needs.
        needed: i64,
        /// Rappen still held or payable.
        available: i64,
    },
    /// The payout cannot be released before the dispute window closes.
    #[error("the dispute window is open until {until}")]
    DisputeWindowOpen {
        /// When it closes.
        until: Timestamp,
    },
    /// More refund than was charged.
    #[error("a refund of {requested} Rappen exceeds the {charged} Rappen charged")]
    RefundExceedsCharge {
        /// Rappen asked for.
        requested: i64,
        /// Rappen charged and not yet refunded.
        charged: i64,
    },
    /// More paid back than the customer's credit.
    #[error("paying back {requested} Rappen exceeds the customer's credit of {credit}")]
    RefundExceedsCredit {
        /// Rappen asked for.
        requested: i64,
        /// The customer's credit.
        credit: i64,
    },
    /// More paid out than is payable to the helper.
    #[error("a payout of {requested} Rappen exceeds the {payable} Rappen payable")]
    PayoutExceedsPayable {
        /// Rappen asked for.
        requested: i64,
        /// Rappen payable.
        payable: i64,
    },
    /// More taken from an asset account than it holds for this booking.
    #[error("{requested} Rappen exceed the {available} Rappen in `{}`", account.as_str())]
    ExceedsBalance {
        /// The account.
        account: Account,
        /// Rappen asked for.
        requested: i64,
        /// Rappen there.
        available: i64,
    },
    /// An amount that makes no sense here (e.g. a commission above the settled amount).
    #[error("the amount is not valid here")]
    InvalidAmount,
}

impl LedgerError {
    /// A stable, machine-readable code for API error envelopes.
    pub fn code(&self) -> &'static str {
        match self {
            LedgerError::EmptyTransaction => "empty_transaction",
            LedgerError::Unbalanced { .. } => "unbalanced_transaction",
            LedgerError::Overflow => "amount_out_of_range",
            LedgerError::NothingToPost => "nothing_to_post",
            LedgerError::InsufficientHelperFunds { .. } => "insufficient_helper_funds",
            LedgerError::DisputeWindowOpen { .. } => "dispute_window_open",
            LedgerError::RefundExceedsCharge { .. } => "refund_exceeds_charge",
            LedgerError::RefundExceedsCredit { .. } => "refund_exceeds_credit",
            LedgerError::PayoutExceedsPayable { .. } => "payout_exceeds_payable",
            LedgerError::ExceedsBalance { .. } => "exceeds_balance",
            LedgerError::InvalidAmount => "invalid_amount",
        }
    }
}

/// The balances of one booking's accounts, folded from its transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Balances {
    accounts: BTreeMap<Account, i64>,
    charged: i64,
    platform_charged: i64,
}

impl Balances {
    /// No transactions yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The balances after `transactions`, in order.
    pub fn from_transactions<'a>(transactions: impl IntoIterator<Item = &'a Transaction>) -> Result<Self, LedgerError> {
        let mut b = Self::new();
        for t in transactions {
            b.apply(t)?;
        }
        Ok(b)
    }

    /// Adds a transaction. All or nothing: on overflow nothing changes.
    pub fn apply(&mut self, tx: &Transaction) -> Result<(), LedgerError> {
        let mut next = self.clone();
        for p in tx.postings() {
            let slot = next.accounts.entry(p.account).or_insert(0);
            *slot = slot.checked_add(p.amount_rappen).ok_or(LedgerError::Overflow)?;
        }
        if tx.kind().is_charge() || tx.kind().is_refund() {
            next.charged = next.charged.checked_add(tx.amount_for(Account::CustomerReceivable)).ok_or(LedgerError::Overflow)?;
            next.platform_charged =
                next.platform_charged.checked_sub(tx.amount_for(Account::PlatformRevenue)).ok_or(LedgerError::Overflow)?;
        }
        *self = next;
        Ok(())
    }

    /// The balance of an account (positive: debit balance).
    pub fn balance(&self, account: Account) -> i64 {
        self.accounts.get(&account).copied().unwrap_or(0)
    }

    /// The sum over all accounts: always zero.
    pub fn sum(&self) -> i128 {
        self.accounts.values().map(|&v| i128::from(v)).sum()
    }

    /// Owed to the helper and still held (never negative).
    pub fn held_for_helper(&self) -> i64 {
        -self.balance(Account::HelperPayoutHeld)
    }

    /// Owed to the helper and released (never negative).
    pub fn payable_to_helper(&self) -> i64 {
        -self.balance(Account::HelperPayable)
    }

    /// What the customer still owes (negative when the customer is in credit).
    pub fn customer_owes(&self) -> i64 {
        self.balance(Account::CustomerReceivable)
    }

    /// The customer's credit: paid beyond what is owed, due back.
    pub fn customer_credit(&self) -> i64 {
        (-self.customer_owes()).max(0)
    }

    /// What has been charged to the customer, net of refunds.
    pub fn charged(&self) -> i64 {
        self.charged
    }

    /// The platform's part of [`Balances::charged`].
    pub fn platform_charged(&self) -> i64 {
        self.platform_charged
    }
}

fn tx(kind: TransactionKind, postings: Vec<Posting>) -> Result<Transaction, LedgerError> {
    match Transaction::new(kind, postings) {
        Err(LedgerError::EmptyTransaction) => Err(LedgerError::NothingToPost),
        other => other,
    }
}

fn money(rappen: i64) -> Result<Money, LedgerError> {
    Money::from_rappen(rappen).map_err(|_| LedgerError::Overflow)
}

/// The visit was done: the customer owes the quote's total, the helper is owed the total less
/// the platform fee (held until the dispute window closes), the platform earns its fee.
pub fn booking_completed(quote: &Quote) -> Result<Transaction, LedgerError> {
    let fee = quote.platform_fee();
    let helper = money(quote.total.rappen().checked_sub(fee.rappen()).ok_or(LedgerError::Overflow)?)?;
    tx(
        TransactionKind::BookingCompleted,
        vec![
            Posting::debit(Account::CustomerReceivable, quote.total),
            Posting::credit(Account::HelperPayoutHeld, helper),
            Posting::credit(Account::PlatformRevenue, fee),
        ],
    )
}

/// What a customer hands over in cash for a bill of `billed`: rounded to 5 Rappen.
pub fn cash_due(billed: Money) -> Money {
    Money::from_rappen(round_5_rappen(billed.rappen())).unwrap_or(billed)
}

/// The customer paid a bill of `billed`. By invoice or card the amount is exact; in cash the
/// customer hands over [`cash_due`] and the difference goes to [`Account::CashRounding`].
/// Paying more than is owed leaves the customer in credit (see [`refund_paid`]).
pub fn payment_received(method: PaymentMethod, billed: Money) -> Result<Transaction, LedgerError> {
    if billed == Money::ZERO {
        return Err(LedgerError::NothingToPost);
    }
    let received = match method {
        PaymentMethod::Cash => cash_due(billed),
        PaymentMethod::Invoice | PaymentMethod::Card => billed,
    };
    tx(
        TransactionKind::PaymentReceived { method },
        vec![
            Posting::debit(method.account(), received),
            Posting::credit(Account::CustomerReceivable, billed),
            // Positive when the customer handed over less (a rounding loss).
            Posting { account: Account::CashRounding, amount_rappen: billed.rappen() - received.rappen() },
        ],
    )
}

/// The acquirer settled `gross` of this booking's card payments to the bank, keeping
/// `commission`.
pub fn card_settled(balances: &Balances, gross: Money, commission: Money) -> Result<Transaction, LedgerError> {
    if commission > gross {
        return Err(LedgerError::InvalidAmount);
    }
    let available = balances.balance(Account::CardClearing);
    if gross.rappen() > available {
        return Err(LedgerError::ExceedsBalance { account: Account::CardClearing, requested: gross.rappen(), available });
    }
    tx(
        TransactionKind::CardSettled,
        vec![
            Posting::debit(Account::Bank, money(gross.rappen() - commission.rappen())?),
            Posting::debit(Account::PaymentFees, commission),
            Posting::credit(Account::CardClearing, gross),
        ],
    )
}

/// Releases everything held for the helper once the dispute window after `completed_at` has
/// closed (`now` at or after `completed_at + dispute_window`; default window 72 h, see
/// [`crate::policy::Policy::dispute_window`]).
pub fn release_payout(
    balances: &Balances,
    completed_at: Timestamp,
    now: Timestamp,
    dispute_window: SignedDuration,
) -> Result<Transaction, LedgerError> {
    let until = completed_at.checked_add(dispute_window).map_err(|_| LedgerError::Overflow)?;
    if now < until {
        return Err(LedgerError::DisputeWindowOpen { until });
    }
    let held = money(balances.held_for_helper().max(0))?;
    tx(
        TransactionKind::PayoutReleased,
        vec![Posting::debit(Account::HelperPayoutHeld, held), Posting::credit(Account::HelperPayable, held)],
    )
}

/// Releases everything still held for the helper once an operator has decided a dispute (the
/// decision replaces the wait for the window). Nothing held is [`LedgerError::NothingToPost`].
pub fn release_decided(balances: &Balances) -> Result<Transaction, LedgerError> {
    let held = balances.held_for_helper();
    if held <= 0 {
        return Err(LedgerError::NothingToPost);
    }
    let held = money(held)?;
    tx(
        TransactionKind::PayoutReleased,
        vec![Posting::debit(Account::HelperPayoutHeld, held), Posting::credit(Account::HelperPayable, held)],
    )
}

/// Pays `amount` of what is payable to the helper: by bank transfer, or by the helper keeping
/// cash they took for this booking.
pub fn payout_paid(balances: &Balances, amount: Money, channel: PayoutChannel) -> Result<Transaction, LedgerError> {
    let payable = balances.payable_to_helper();
    if amount.rappen() > payable {
        return Err(LedgerError::PayoutExceedsPayable { requested: amount.rappen(), payable });
    }
    let from = match channel {
        PayoutChannel::BankTransfer => Account::Bank,
        PayoutChannel::CashCollected => {
            let available = balances.balance(Account::Cash);
            if amount.rappen() > available {
                return Err(LedgerError::ExceedsBalance { account: Account::Cash, requested: amount.rappen(), available });
            }
            Account::Cash
        }
    };
    tx(TransactionKind::PayoutPaid { channel }, vec![Posting::debit(Account::HelperPayable, amount), Posting::credit(from, amount)])
}

fn fee_transaction(kind: TransactionKind, o: &FeeOutcome) -> Result<Transaction, LedgerError> {
    if o.helper_share.rappen() + o.platform_share.rappen() != o.fee.rappen() {
        return Err(LedgerError::InvalidAmount);
    }
    tx(
        kind,
        vec![
            Posting::debit(Account::CustomerReceivable, o.fee),
            Posting::credit(Account::HelperPayoutHeld, o.helper_share),
            Posting::credit(Account::PlatformRevenue, o.platform_share),
        ],
    )
}

/// The customer owes a late-cancellation fee, split as the policy says
/// ([`crate::policy::Policy::cancellation_fee`]). A free cancellation has nothing to post.
pub fn cancellation_fee(outcome: &FeeOutcome) -> Result<Transaction, LedgerError> {
    fee_transaction(TransactionKind::CancellationFee, outcome)
}

/// The customer was not there and owes the no-show fee
/// ([`crate::policy::Policy::customer_no_show`]).
pub fn customer_no_show(outcome: &FeeOutcome) -> Result<Transaction, LedgerError> {
    fee_transaction(TransactionKind::CustomerNoShow, outcome)
}

fn penalty_of(kind: TransactionKind, balances: &Balances, amount: Money) -> Result<Transaction, LedgerError> {
    let held = balances.held_for_helper().max(0).min(amount.rappen());
    let payable = balances.payable_to_helper().max(0).min(amount.rappen() - held);
    let claim = amount.rappen() - held - payable;
    tx(
        kind,
        vec![
            Posting::debit(Account::HelperPayoutHeld, money(held)?),
            Posting::debit(Account::HelperPayable, money(payable)?),
            Posting::debit(Account::HelperReceivable, money(claim)?),
            Posting::credit(Account::PlatformRevenue, amount),
        ],
    )
}

/// The helper did not come: the policy's penalty, taken from what the booking still owes the
/// helper and otherwise claimed from the helper. The customer was charged nothing; if they had
/// paid, pay back `outcome.refund` with [`refund_paid`].
pub fn helper_no_show(balances: &Balances, outcome: &HelperNoShowOutcome) -> Result<Transaction, LedgerError> {
    penalty_of(TransactionKind::HelperNoShowPenalty, balances, outcome.penalty)
}

/// A penalty of `amount` charged to the helper: taken first from the payout held, then from
/// what is payable, and the rest becomes a claim on the helper ([`Account::HelperReceivable`]).
pub fn penalty(balances: &Balances, amount: Money) -> Result<Transaction, LedgerError> {
    penalty_of(TransactionKind::Penalty, balances, amount)
}

fn refund_of(kind: TransactionKind, balances: &Balances, amount: i64) -> Result<Transaction, LedgerError> {
    let charged = balances.charged();
    if amount > charged {
        return Err(LedgerError::RefundExceedsCharge { requested: amount, charged });
    }
    if amount <= 0 {
        return Err(LedgerError::NothingToPost);
    }
    let platform_charged = balances.platform_charged().clamp(0, charged);
    let platform_part =
        if amount == charged { platform_charged } else { apply_ratio(amount, platform_charged, charged).ok_or(LedgerError::Overflow)? };
    let helper_part = amount - platform_part;
    let held = balances.held_for_helper().max(0);
    let payable = balances.payable_to_helper().max(0);
    if helper_part > held.saturating_add(payable) {
        return Err(LedgerError::InsufficientHelperFunds { needed: helper_part, available: held.saturating_add(payable) });
    }
    let from_held = helper_part.min(held);
    let from_payable = helper_part - from_held;
    tx(
        kind,
        vec![
            Posting::debit(Account::HelperPayoutHeld, money(from_held)?),
            Posting::debit(Account::HelperPayable, money(from_payable)?),
            Posting::debit(Account::PlatformRevenue, money(platform_part)?),
            Posting::credit(Account::CustomerReceivable, money(amount)?),
        ],
    )
}

/// Refunds everything charged for the booking and not yet refunded: the helper's side from
/// what is still held or payable to the helper, the platform's side from its revenue. Refused
/// when the helper has already been paid out too much of it.
pub fn full_refund(balances: &Balances) -> Result<Transaction, LedgerError> {
    refund_of(TransactionKind::FullRefund, balances, balances.charged())
}

/// Refunds `amount` of what was charged, split between helper and platform in proportion to
/// their shares of the charges (rounded to the Rappen, halves away from zero).
pub fn partial_refund(balances: &Balances, amount: Money) -> Result<Transaction, LedgerError> {
    refund_of(TransactionKind::PartialRefund, balances, amount.rappen())
}

/// Pays back `amount` of the customer's credit. In cash the amount handed over is rounded to
/// 5 Rappen and the difference goes to [`Account::CashRounding`].
pub fn refund_paid(balances: &Balances, amount: Money, method: PaymentMethod) -> Result<Transaction, LedgerError> {
    let credit = balances.customer_credit();
    if amount.rappen() > credit {
        return Err(LedgerError::RefundExceedsCredit { requested: amount.rappen(), credit });
    }
    if amount == Money::ZERO {
        return Err(LedgerError::NothingToPost);
    }
    let handed = match method {
        PaymentMethod::Cash => cash_due(amount),
        PaymentMethod::Invoice | PaymentMethod::Card => amount,
    };
    tx(
        TransactionKind::RefundPaid { method },
        vec![
            Posting::debit(Account::CustomerReceivable, amount),
            Posting::credit(method.account(), handed),
            // Positive when more was handed back than due (a rounding loss).
            Posting { account: Account::CashRounding, amount_rappen: handed.rappen() - amount.rappen() },
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        default_policy,
        quote::{LineKind, QuoteLine},
    };

    fn quote_of(total: i64, fee: i64) -> Quote {
        let mut lines =
            vec![QuoteLine { kind: LineKind::Base, label: "Base".into(), amount: Money::from_rappen(total - fee).expect("valid") }];
        if fee > 0 {
            lines.push(QuoteLine { kind: LineKind::PlatformFee, label: "Fee".into(), amount: Money::from_rappen(fee).expect("valid") });
        }
        Quote {
            base: Money::from_rappen(total - fee).expect("valid"),
            extra_units: 0,
            extra: Money::ZERO,
            total: Money::from_rappen(total).expect("valid"),
            duration_minutes: 60,
            lines,
        }
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("timestamp")
    }

    fn rp(r: i64) -> Money {
        Money::from_rappen(r).expect("valid")
    }

    fn run(b: &mut Balances, make: impl FnOnce(&Balances) -> Result<Transaction, LedgerError>) {
        let t = make(b).expect("posts");
        apply(b, &t);
    }

    fn apply(b: &mut Balances, t: &Transaction) {
        b.apply(t).expect("applies");
        assert_eq!(b.sum(), 0);
        assert!(b.held_for_helper() >= 0);
        assert!(b.payable_to_helper() >= 0);
    }

    #[test]
    fn transactions_must_balance_and_not_be_empty() {
        let k = TransactionKind::Penalty;
        assert_eq!(Transaction::new(k, vec![]), Err(LedgerError::EmptyTransaction));
        assert_eq!(Transaction::new(k, vec![Posting::debit(Account::Bank, Money::ZERO)]), Err(LedgerError::EmptyTransaction));
        assert_eq!(
            Transaction::new(k, vec![Posting::debit(Account::Bank, rp(100)), Posting::credit(Account::PlatformRevenue, rp(99)),]),
            Err(LedgerError::Unbalanced { sum: 1 })
        );
        // Sums beyond i64 are caught, not wrapped.
        let huge = Transaction::new(
            k,
            vec![
                Posting { account: Account::Bank, amount_rappen: i64::MAX },
                Posting { account: Account::Cash, amount_rappen: i64::MAX },
                Posting { account: Account::PlatformRevenue, amount_rappen: 2 },
            ],
        );
        assert!(matches!(huge, Err(LedgerError::Unbalanced { .. })));
    }

    #[test]
    fn an_unbalanced_stored_transaction_is_refused_on_reading() {
        let t = booking_completed(&quote_of(4_900, 0)).expect("posts");
        let json = serde_json::to_string(&t).expect("serialises");
        assert!(json.contains("\"type\":\"booking_completed\""), "{json}");
        let back: Transaction = serde_json::from_str(&json).expect("reads");
        assert_eq!(back, t);
        let tampered = json.replacen("4900", "4901", 1);
        assert!(serde_json::from_str::<Transaction>(&tampered).is_err());
    }

    #[test]
    fn a_completed_booking_paid_by_card_and_released() {
        let q = quote_of(10_395, 395);
        let mut b = Balances::new();
        let done = booking_completed(&q).expect("posts");
        assert_eq!(done.amount_for(Account::CustomerReceivable), 10_395);
        assert_eq!(done.amount_for(Account::HelperPayoutHeld), -10_000);
        assert_eq!(done.amount_for(Account::PlatformRevenue), -395);
        apply(&mut b, &done);
        apply(&mut b, &payment_received(PaymentMethod::Card, q.total).expect("posts"));
        assert_eq!(b.customer_owes(), 0);
        let completed = ts("2026-03-11T10:00:00Z");
        let window = default_policy().dispute_window();
        assert_eq!(
            release_payout(&b, completed, ts("2026-03-25T09:59:59Z"), window),
            Err(LedgerError::DisputeWindowOpen { until: ts("2026-03-25T10:00:00Z") })
        );
        let rel = release_payout(&b, completed, ts("2026-03-25T10:00:00Z"), window).expect("posts");
        apply(&mut b, &rel);
        assert_eq!(b.held_for_helper(), 0);
        assert_eq!(b.payable_to_helper(), 10_000);
        run(&mut b, |b| card_settled(b, q.total, rp(150)));
        assert_eq!(
            payout_paid(&b, rp(10_001), PayoutChannel::BankTransfer),
            Err(LedgerError::PayoutExceedsPayable { requested: 10_001, payable: 10_000 })
        );
        run(&mut b, |b| payout_paid(b, rp(10_000), PayoutChannel::BankTransfer));
        assert_eq!(b.balance(Account::Bank), 10_395 - 150 - 10_000);
        assert_eq!(b.balance(Account::PlatformRevenue), -395);
        assert_eq!(b.balance(Account::PaymentFees), 150);
        // Nothing left to release.
        assert_eq!(release_payout(&b, completed, ts("2026-03-31T10:00:00Z"), window), Err(LedgerError::NothingToPost));
    }

    #[test]
    fn cash_payments_round_to_5_rappen_into_the_rounding_account() {
        let mut b = Balances::new();
        apply(&mut b, &booking_completed(&quote_of(5_837, 0)).expect("posts"));
        let pay = payment_received(PaymentMethod::Cash, rp(5_837)).expect("posts");
        assert_eq!(pay.amount_for(Account::Cash), 5_835);
        assert_eq!(pay.amount_for(Account::CustomerReceivable), -5_837);
        assert_eq!(pay.amount_for(Account::CashRounding), 2);
        apply(&mut b, &pay);
        assert_eq!(b.customer_owes(), 0);
        let up = payment_received(PaymentMethod::Cash, rp(5_838)).expect("posts");
        assert_eq!(up.amount_for(Account::Cash), 5_840);
        assert_eq!(up.amount_for(Account::CashRounding), -2);
        // Exact amounts post no rounding line.
        let exact = payment_received(PaymentMethod::Cash, rp(5_835)).expect("posts");
        assert_eq!(exact.postings().len(), 2);
        // The helper keeps the cash as payout, within what they collected.
        let rel =
            release_payout(&b, ts("2026-03-11T10:00:00Z"), ts("2026-03-26T10:00:00Z"), default_policy().dispute_window()).expect("posts");
        apply(&mut b, &rel);
        assert_eq!(payout_paid(&b, rp(5_837), PayoutChannel::CashCollected).map_err(|e| e.code()), Err("exceeds_balance"));
        run(&mut b, |b| payout_paid(b, rp(5_835), PayoutChannel::CashCollected));
        assert_eq!(b.balance(Account::Cash), 0);
        assert_eq!(b.payable_to_helper(), 2);
    }

    #[test]
    fn late_cancellation_fee_is_split_per_policy() {
        let p = default_policy();
        let o = p.cancellation_fee(Money::chf(69), ts("2026-03-11T09:00:00Z"), ts("2026-03-11T08:00:00Z")).expect("applies");
        let t = cancellation_fee(&o).expect("posts");
        assert_eq!(t.amount_for(Account::CustomerReceivable), 6_900);
        assert_eq!(t.amount_for(Account::HelperPayoutHeld), -5_520);
        assert_eq!(t.amount_for(Account::PlatformRevenue), -1_380);
        let free = p.cancellation_fee(Money::chf(69), ts("2026-03-11T09:00:00Z"), ts("2026-03-01T08:00:00Z")).expect("applies");
        assert_eq!(cancellation_fee(&free), Err(LedgerError::NothingToPost));
        let mut forged = o;
        forged.helper_share = Money::chf(69);
        assert_eq!(cancellation_fee(&forged), Err(LedgerError::InvalidAmount));
    }

    #[test]
    fn customer_no_show_pays_the_helper() {
        let o = default_policy().customer_no_show(Money::chf(49)).expect("applies");
        let t = customer_no_show(&o).expect("posts");
        assert_eq!(t.amount_for(Account::HelperPayoutHeld), -4_900);
        assert_eq!(t.amount_for(Account::PlatformRevenue), 0);
        assert_eq!(t.kind().as_str(), "customer_no_show");
    }

    #[test]
    fn helper_no_show_penalty_becomes_a_claim_when_nothing_is_owed() {
        let mut b = Balances::new();
        // The customer had prepaid by card.
        apply(&mut b, &payment_received(PaymentMethod::Card, Money::chf(49)).expect("posts"));
        assert_eq!(b.customer_credit(), 4_900);
        let o = default_policy().helper_no_show(Money::chf(49)).expect("applies");
        let t = helper_no_show(&b, &o).expect("posts");
        assert_eq!(t.amount_for(Account::HelperReceivable), 2_000);
        assert_eq!(t.amount_for(Account::PlatformRevenue), -2_000);
        apply(&mut b, &t);
        run(&mut b, |b| refund_paid(b, o.refund, PaymentMethod::Card));
        assert_eq!(b.customer_credit(), 0);
        assert_eq!(b.balance(Account::CardClearing), 0);
    }

    #[test]
    fn penalties_take_from_the_payout_before_claiming() {
        let mut b = Balances::new();
        apply(&mut b, &booking_completed(&quote_of(1_500, 0)).expect("posts"));
        let t = penalty(&b, Money::chf(20)).expect("posts");
        assert_eq!(t.amount_for(Account::HelperPayoutHeld), 1_500);
        assert_eq!(t.amount_for(Account::HelperReceivable), 500);
        apply(&mut b, &t);
        assert_eq!(b.held_for_helper(), 0);
    }

    #[test]
    fn refunds_come_from_the_helper_and_platform_shares() {
        let mut b = Balances::new();
        apply(&mut b, &booking_completed(&quote_of(10_500, 500)).expect("posts"));
        apply(&mut b, &payment_received(PaymentMethod::Invoice, rp(10_500)).expect("posts"));
        assert_eq!(partial_refund(&b, rp(10_501)).map_err(|e| e.code()), Err("refund_exceeds_charge"));
        let part = partial_refund(&b, rp(2_100)).expect("posts");
        assert_eq!(part.amount_for(Account::PlatformRevenue), 100);
        assert_eq!(part.amount_for(Account::HelperPayoutHeld), 2_000);
        apply(&mut b, &part);
        assert_eq!(b.customer_credit(), 2_100);
        let full = full_refund(&b).expect("posts");
        assert_eq!(full.amount_for(Account::CustomerReceivable), -8_400);
        assert_eq!(full.amount_for(Account::PlatformRevenue), 400);
        apply(&mut b, &full);
        assert_eq!(b.charged(), 0);
        assert_eq!(b.balance(Account::PlatformRevenue), 0);
        assert_eq!(b.held_for_helper(), 0);
        assert_eq!(full_refund(&b), Err(LedgerError::NothingToPost));
        assert_eq!(refund_paid(&b, rp(10_501), PaymentMethod::Invoice).map_err(|e| e.code()), Err("refund_exceeds_credit"));
        run(&mut b, |b| refund_paid(b, rp(10_500), PaymentMethod::Invoice));
        assert_eq!(b.balance(Account::Bank), 0);
    }

    #[test]
    fn a_refund_after_payout_is_refused_rather_than_making_the_payout_negative() {
        let mut b = Balances::new();
        apply(&mut b, &booking_completed(&quote_of(4_900, 0)).expect("posts"));
        run(&mut b, |b| release_payout(b, ts("2026-03-11T10:00:00Z"), ts("2026-03-25T10:00:00Z"), default_policy().dispute_window()));
        // Released but not paid out: the refund comes from what is payable.
        let t = partial_refund(&b, rp(900)).expect("posts");
        assert_eq!(t.amount_for(Account::HelperPayable), 900);
        apply(&mut b, &t);
        run(&mut b, |b| payout_paid(b, rp(4_000), PayoutChannel::BankTransfer));
        assert_eq!(full_refund(&b), Err(LedgerError::InsufficientHelperFunds { needed: 4_000, available: 0 }));
    }

    #[test]
    fn cash_refunds_round_too() {
        let mut b = Balances::new();
        apply(&mut b, &booking_completed(&quote_of(4_903, 0)).expect("posts"));
        apply(&mut b, &payment_received(PaymentMethod::Cash, rp(4_903)).expect("posts"));
        run(&mut b, full_refund);
        let back = refund_paid(&b, rp(4_903), PaymentMethod::Cash).expect("posts");
        assert_eq!(back.amount_for(Account::Cash), -4_905);
        assert_eq!(back.amount_for(Account::CashRounding), 2);
        apply(&mut b, &back);
        assert_eq!(b.balance(Account::Cash), 0);
    }

    #[test]
    fn account_names_are_stable() {
        for a in Account::ALL {
            assert_eq!(Account::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_string(&a).expect("serialises"), format!("\"{}\"", a.as_str()));
        }
    }
}

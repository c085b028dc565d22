-- Upfront quotes locked into bookings, versioned policies pinned to bookings, helpers' billing
-- details and the double-entry ledger. Mirrors migrations/sqlite.

CREATE TABLE policies (
    version INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    published_by TEXT
);

ALTER TABLE bookings ADD COLUMN quote TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE bookings ADD COLUMN payment_method TEXT;
ALTER TABLE bookings ADD COLUMN paid_at BIGINT;
ALTER TABLE bookings ADD COLUMN completed_at BIGINT;
ALTER TABLE requests ADD COLUMN quote TEXT NOT NULL DEFAULT '';
ALTER TABLE requests ADD COLUMN policy_version INTEGER NOT NULL DEFAULT 1;

CREATE TABLE helper_billing (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    iban TEXT NOT NULL,
    vat_registered INTEGER NOT NULL DEFAULT 0,
    street TEXT NOT NULL,
    house_number TEXT NOT NULL DEFAULT '',
    postcode TEXT NOT NULL,
    town TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE ledger_transactions (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL,
    helper_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ledger_transactions_booking ON ledger_transactions (booking_id, created_at);
CREATE INDEX ledger_transactions_helper ON ledger_transactions (helper_id, created_at);

CREATE TABLE ledger_postings (
    transaction_id TEXT NOT NULL REFERENCES ledger_transactions (id),
    seq INTEGER NOT NULL,
    account TEXT NOT NULL,
    amount_rappen BIGINT NOT NULL,
    PRIMARY KEY (transaction_id, seq)
);

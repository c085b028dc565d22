-- Disputes: a party opens one per booking within the pinned policy's dispute window; the other
-- party adds a statement; photos are stored here and served only to the parties and operators.
-- An operator decides payout, partial refund or refund (optionally a penalty). An open dispute
-- holds the helper's payout. Mirrors migrations/sqlite.

CREATE TABLE disputes (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL UNIQUE REFERENCES bookings (id) ON DELETE CASCADE,
    opened_by TEXT NOT NULL CHECK (opened_by IN ('customer', 'helper')),
    opened_by_user TEXT NOT NULL,
    reason TEXT NOT NULL,
    text TEXT NOT NULL,
    customer_statement TEXT,
    helper_statement TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    outcome TEXT CHECK (outcome IS NULL OR outcome IN ('payout', 'partial_refund', 'refund')),
    refund_rappen BIGINT,
    penalty_rappen BIGINT,
    decision_note TEXT,
    decided_by TEXT,
    opened_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX disputes_status ON disputes (status, opened_at);

CREATE TABLE dispute_photos (
    id TEXT PRIMARY KEY,
    dispute_id TEXT NOT NULL REFERENCES disputes (id) ON DELETE CASCADE,
    uploaded_by TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    data BYTEA NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX dispute_photos_dispute ON dispute_photos (dispute_id, created_at);

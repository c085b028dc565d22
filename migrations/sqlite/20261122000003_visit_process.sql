-- The whole visit process: codes, scope changes, reschedules, failure causes, durable timers,
-- messages and reviews. The overlap guard now covers every state that holds the helper's time
-- (keep in step with quartier_booking::State::holds_time). Mirrors migrations/postgres.

ALTER TABLE bookings ADD COLUMN extra_units INTEGER NOT NULL DEFAULT 0;
ALTER TABLE bookings ADD COLUMN start_code TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN signoff_code TEXT NOT NULL DEFAULT '';
ALTER TABLE bookings ADD COLUMN pending_extra_units INTEGER;
ALTER TABLE bookings ADD COLUMN pending_start BIGINT;
ALTER TABLE bookings ADD COLUMN pending_by TEXT;
ALTER TABLE bookings ADD COLUMN failure_cause TEXT;

DROP TRIGGER bookings_no_overlap_insert;
DROP TRIGGER bookings_no_overlap_update;

CREATE TRIGGER bookings_no_overlap_insert BEFORE INSERT ON bookings
WHEN NEW.state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site')
BEGIN
    SELECT RAISE(ABORT, 'slot_taken: the helper already has a booking at that time')
    WHERE EXISTS (
        SELECT 1 FROM bookings b
        WHERE b.helper_id = NEW.helper_id
          AND b.state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site')
          AND b.blocked_from < NEW.blocked_to
          AND NEW.blocked_from < b.blocked_to
    );
END;

CREATE TRIGGER bookings_no_overlap_update BEFORE UPDATE OF state, helper_id, blocked_from, blocked_to ON bookings
WHEN NEW.state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site')
BEGIN
    SELECT RAISE(ABORT, 'slot_taken: the helper already has a booking at that time')
    WHERE EXISTS (
        SELECT 1 FROM bookings b
        WHERE b.id <> NEW.id
          AND b.helper_id = NEW.helper_id
          AND b.state IN ('requested', 'accepted', 'confirmed', 'en_route', 'on_site')
          AND b.blocked_from < NEW.blocked_to
          AND NEW.blocked_from < b.blocked_to
    );
END;

CREATE TABLE timers (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    kind TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'skipped')),
    lease_until BIGINT,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX timers_due ON timers (state, due_at);
CREATE INDEX timers_booking ON timers (booking_id);

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    author_id TEXT NOT NULL,
    author_role TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX messages_booking ON messages (booking_id, created_at);

CREATE TABLE reviews (
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    author_role TEXT NOT NULL CHECK (author_role IN ('customer', 'helper')),
    author_id TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
    body TEXT NOT NULL DEFAULT '',
    created_at BIGINT NOT NULL,
    PRIMARY KEY (booking_id, author_role)
);
CREATE INDEX reviews_subject ON reviews (subject_id);

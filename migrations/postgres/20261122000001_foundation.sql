-- Foundation schema (PostgreSQL). Instants are epoch milliseconds (UTC), money integer Rappen,
-- flags INTEGER 0/1, ids TEXT (UUIDv7), JSON as TEXT. Mirrors migrations/sqlite.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('customer', 'helper', 'operator')),
    locale TEXT NOT NULL CHECK (locale IN ('de', 'fr', 'it', 'en')),
    time_zone TEXT NOT NULL DEFAULT 'Europe/Zurich',
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    family_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE helper_profiles (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    bio TEXT NOT NULL DEFAULT '',
    skills TEXT NOT NULL DEFAULT '[]',
    languages TEXT NOT NULL DEFAULT '[]',
    home_lat DOUBLE PRECISION NOT NULL,
    home_lon DOUBLE PRECISION NOT NULL,
    travel_radius_km INTEGER NOT NULL CHECK (travel_radius_km BETWEEN 1 AND 15),
    updated_at BIGINT NOT NULL
);

CREATE TABLE services (
    slug TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT NOT NULL,
    skill TEXT NOT NULL,
    base_price_rappen BIGINT NOT NULL CHECK (base_price_rappen >= 0),
    duration_minutes INTEGER NOT NULL CHECK (duration_minutes > 0),
    extra_unit_rappen BIGINT NOT NULL CHECK (extra_unit_rappen >= 0),
    position INTEGER NOT NULL,
    active SMALLINT NOT NULL DEFAULT 1
);

CREATE TABLE bookings (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES users (id),
    helper_id TEXT NOT NULL REFERENCES users (id),
    service_slug TEXT NOT NULL REFERENCES services (slug),
    service_name TEXT NOT NULL,
    address TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    blocked_from BIGINT NOT NULL,
    blocked_to BIGINT NOT NULL,
    time_zone TEXT NOT NULL,
    state TEXT NOT NULL,
    price_rappen BIGINT NOT NULL CHECK (price_rappen >= 0),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (blocked_from <= starts_at AND blocked_to >= ends_at)
);
CREATE INDEX bookings_customer ON bookings (customer_id, starts_at);
CREATE INDEX bookings_helper ON bookings (helper_id, blocked_from);

-- A helper never holds two overlapping active bookings: the database refuses it (SQLSTATE 23P01).
-- Keep the state list in step with quartier_booking::State::holds_time.
CREATE EXTENSION IF NOT EXISTS btree_gist;
ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist (
    helper_id WITH =,
    int8range(blocked_from, blocked_to) WITH &&
) WHERE (state IN ('requested', 'accepted'));

CREATE TABLE booking_events (
    id TEXT PRIMARY KEY,
    booking_id TEXT NOT NULL REFERENCES bookings (id),
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor_role TEXT NOT NULL,
    action TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL,
    note TEXT
);
CREATE INDEX booking_events_booking ON booking_events (booking_id, at);

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    template TEXT NOT NULL,
    recipient_id TEXT,
    recipient_email TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    locale TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    sent_at BIGINT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

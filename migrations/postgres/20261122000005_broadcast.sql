-- "Any helper nearby": a request offered to the best few candidates at once; the first accept
-- wins and becomes a booking with the request's id. Mirrors migrations/sqlite.

CREATE TABLE requests (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES users (id),
    service_slug TEXT NOT NULL REFERENCES services (slug),
    service_name TEXT NOT NULL,
    address TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lon DOUBLE PRECISION NOT NULL,
    starts_at BIGINT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    extra_units INTEGER NOT NULL,
    price_rappen BIGINT NOT NULL,
    time_zone TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'taken', 'expired', 'cancelled')),
    round INTEGER NOT NULL DEFAULT 1,
    winner_id TEXT,
    due_at BIGINT NOT NULL,
    lease_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX requests_due ON requests (state, due_at);
CREATE INDEX requests_customer ON requests (customer_id);

CREATE TABLE offers (
    request_id TEXT NOT NULL REFERENCES requests (id),
    helper_id TEXT NOT NULL REFERENCES users (id),
    round INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'accepted', 'lost', 'declined', 'expired')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT,
    PRIMARY KEY (request_id, helper_id)
);
CREATE INDEX offers_helper ON offers (helper_id, state);

-- Idempotency keys (`Idempotency-Key` on POST): one row per (user, key) holding the request's
-- fingerprint and, once the first request is done, its response for replays. Rows older than
-- 24 h are expired and purged. Mirrors migrations/sqlite.

CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('started', 'done')),
    status INTEGER,
    headers TEXT,
    body BYTEA,
    created_at BIGINT NOT NULL,
    completed_at BIGINT,
    PRIMARY KEY (user_id, key),
    CHECK (state = 'started' OR (status IS NOT NULL AND headers IS NOT NULL AND body IS NOT NULL))
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);

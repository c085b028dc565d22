-- Availability (weekly rules in local time + exceptions) and the change feed that keeps every
-- replica's in-memory match index current. Mirrors migrations/postgres.

CREATE TABLE helper_schedules (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    time_zone TEXT NOT NULL,
    rules TEXT NOT NULL DEFAULT '[]',
    paused INTEGER NOT NULL DEFAULT 0,
    min_notice_minutes INTEGER NOT NULL DEFAULT 120,
    max_jobs_per_day INTEGER,
    buffer_before_minutes INTEGER NOT NULL DEFAULT 15,
    buffer_after_minutes INTEGER NOT NULL DEFAULT 15,
    updated_at BIGINT NOT NULL
);

CREATE TABLE helper_exceptions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('off', 'extra')),
    date_from TEXT NOT NULL,
    date_to TEXT NOT NULL,
    start_min INTEGER,
    end_min INTEGER,
    created_at BIGINT NOT NULL,
    CHECK (date_to >= date_from),
    CHECK (kind = 'off' OR (start_min IS NOT NULL AND end_min IS NOT NULL AND start_min < end_min))
);
CREATE INDEX helper_exceptions_user ON helper_exceptions (user_id, date_from);

CREATE TABLE helper_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    helper_id TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX helper_changes_at ON helper_changes (at);

-- Reputation: each helper's current level (recomputed after every completed, cancelled or
-- disputed booking), every change with its reason, contested figures for operators to review,
-- the opt-in to the neighbourhood ranking, and preview services for super-helpers.
-- Mirrors migrations/postgres.

CREATE TABLE helper_levels (
    helper_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    level TEXT NOT NULL CHECK (level IN ('new', 'trusted', 'super')),
    since BIGINT NOT NULL,
    reason TEXT NOT NULL,
    computed_at BIGINT NOT NULL
);

CREATE TABLE level_changes (
    id TEXT PRIMARY KEY,
    helper_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    from_level TEXT NOT NULL,
    to_level TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX level_changes_helper ON level_changes (helper_id, at);

CREATE TABLE metric_contests (
    id TEXT PRIMARY KEY,
    helper_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    figure TEXT NOT NULL,
    booking_id TEXT,
    text TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'accepted', 'rejected')),
    answer TEXT,
    decided_by TEXT,
    created_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX metric_contests_status ON metric_contests (status, created_at);

ALTER TABLE helper_profiles ADD COLUMN ranking_opt_in INTEGER NOT NULL DEFAULT 0;
ALTER TABLE services ADD COLUMN preview INTEGER NOT NULL DEFAULT 0;

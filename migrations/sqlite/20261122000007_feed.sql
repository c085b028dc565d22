-- The in-app feed: one row per notice per recipient, in the recipient's language. The sequence
-- number is the server-sent-events id, so a reconnecting client resumes where it stopped.
-- Mirrors migrations/postgres.

CREATE TABLE notifications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    booking_id TEXT,
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, seq);

-- Vetting: helpers apply, operators decide; only approved helpers receive offers. Every operator
-- action is written to the audit log with who, when, what and why. Mirrors migrations/postgres.

CREATE TABLE helper_applications (
    user_id TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    status TEXT NOT NULL CHECK (status IN ('applied', 'approved', 'rejected', 'suspended', 'appealed')),
    legal_name TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    iban TEXT NOT NULL,
    quiz TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT,
    reason TEXT,
    appeal TEXT,
    appealed_at BIGINT,
    appeal_against TEXT
);
CREATE INDEX helper_applications_status ON helper_applications (status, submitted_at);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    operator_id TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log (subject_id, at);

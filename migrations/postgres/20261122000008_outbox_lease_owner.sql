-- Fencing for the outbox: every claim writes a fresh token into lease_owner, and only the holder
-- of the current token may renew the lease or record the outcome (sent, retry, dead). A worker
-- whose lease ran out and whose rows were taken over can no longer touch them. The token stays on
-- the row after it is finished (who sent it); an operator's retry clears it.
-- The second index serves the operators' outbox list (by state, newest first).
-- Mirrors migrations/sqlite.

ALTER TABLE outbox ADD COLUMN lease_owner TEXT;
CREATE INDEX outbox_state_id ON outbox (state, id);

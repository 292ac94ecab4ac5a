-- holdfast-telephony: one CDR per INVITE transaction, not per Call-ID.
-- A Call-ID may be reused by a later INVITE transaction (a 488 then an
-- answered call): both are billable records. cdr_id is set by the worker
-- (a hash of Call-ID, From tag, CSeq and Via branch); rows from before
-- this migration, and writers that do not set it, use their call_id.
-- The CDR sink inserts with ON CONFLICT (cdr_id) DO NOTHING, so a replay
-- of the spool after a crash still stores each record once.
ALTER TABLE calls ADD COLUMN cdr_id text;
UPDATE calls SET cdr_id = call_id;
ALTER TABLE calls DROP CONSTRAINT calls_call_id_key;
CREATE UNIQUE INDEX calls_cdr_id ON calls (cdr_id);
CREATE INDEX calls_call_id ON calls (call_id);

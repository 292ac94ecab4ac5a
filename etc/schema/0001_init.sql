-- holdfast schema, version 1: the data contract of docs/design.md §5.
-- Operators and the acceptance checks read these tables directly: the
-- table names and key columns are fixed. Migrations are append-only: a
-- change is a new file NNNN_name.sql, never an edit of an applied one.

CREATE TABLE users (
	id		bigserial PRIMARY KEY,
	email		text NOT NULL UNIQUE,
	password_hash	text NOT NULL,		-- crypt(3): $y$ (yescrypt) or $2b$
	created_at	timestamptz NOT NULL DEFAULT now(),
	disabled	boolean NOT NULL DEFAULT false
);

CREATE TABLE auth_tokens (
	token_hash	bytea PRIMARY KEY,	-- SHA-256 of the bearer token
	user_id		bigint NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	created_at	timestamptz NOT NULL DEFAULT now(),
	expires_at	timestamptz NOT NULL
);
CREATE INDEX auth_tokens_expiry ON auth_tokens (expires_at);

-- A conversation session per contact (phone_number_id, wa_id); at most one
-- open at a time, closed after session_idle_timeout with a summary.
CREATE TABLE conversations (
	id		bigserial PRIMARY KEY,
	phone_number_id	text NOT NULL,
	wa_id		text NOT NULL,
	status		text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
	opened_at	timestamptz NOT NULL,
	last_message_at	timestamptz NOT NULL,
	closed_at	timestamptz,
	summary		text,
	msgs_in		integer NOT NULL DEFAULT 0,
	msgs_out	integer NOT NULL DEFAULT 0,
	first_message_at timestamptz,
	last_inbound_text text
);
CREATE UNIQUE INDEX conversations_one_open ON conversations (phone_number_id, wa_id)
	WHERE status = 'open';
CREATE INDEX conversations_recent ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_idle ON conversations (last_message_at) WHERE status = 'open';

-- Every WhatsApp message, inbound (from the webhook) and outbound (copied
-- from the outbox once sent). conversation_id stays NULL until the session
-- worker assigns it.
CREATE TABLE wa_messages (
	id		bigserial PRIMARY KEY,
	wamid		text NOT NULL UNIQUE,
	phone_number_id	text NOT NULL,
	wa_id		text NOT NULL,
	direction	text NOT NULL CHECK (direction IN ('in', 'out')),
	msg_type	text NOT NULL DEFAULT 'text',
	body		text,
	sent_at		timestamptz NOT NULL,
	received_at	timestamptz NOT NULL DEFAULT now(),
	conversation_id	bigint REFERENCES conversations(id),
	processed_at	timestamptz,
	raw		jsonb
);
CREATE INDEX wa_messages_unassigned ON wa_messages (id) WHERE conversation_id IS NULL;
CREATE INDEX wa_messages_by_conversation ON wa_messages (conversation_id, sent_at, id);

-- Per contact: the 24-hour customer-service window opens at the contact's
-- latest inbound message (its own timestamp, not arrival time).
CREATE TABLE wa_contacts (
	phone_number_id	text NOT NULL,
	wa_id		text NOT NULL,
	profile_name	text,
	last_inbound_at	timestamptz NOT NULL,
	PRIMARY KEY (phone_number_id, wa_id)
);

-- Replies to deliver through the Cloud API. A row with a wamid was accepted
-- by Meta and is never sent again (the API has no idempotency key).
CREATE TABLE wa_outbox (
	id		bigserial PRIMARY KEY,
	conversation_id	bigint REFERENCES conversations(id),
	phone_number_id	text NOT NULL,
	to_wa_id	text NOT NULL,
	body		text NOT NULL,
	status		text NOT NULL DEFAULT 'pending'
			CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed')),
	wamid		text UNIQUE,
	attempts	integer NOT NULL DEFAULT 0,
	last_error	text,
	next_attempt_at	timestamptz NOT NULL DEFAULT now(),
	claimed_until	timestamptz,		-- lease held by a sending worker
	created_at	timestamptz NOT NULL DEFAULT now(),
	updated_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX wa_outbox_due ON wa_outbox (next_attempt_at) WHERE status = 'pending' AND wamid IS NULL;

-- Delivery statuses as received (deduplicated on (wamid, status)); the
-- session worker applies them to wa_outbox, only ever moving forward.
CREATE TABLE wa_statuses (
	wamid		text NOT NULL,
	status		text NOT NULL,
	status_at	timestamptz NOT NULL,
	errors		jsonb,
	received_at	timestamptz NOT NULL DEFAULT now(),
	applied_at	timestamptz,
	PRIMARY KEY (wamid, status)
);
CREATE INDEX wa_statuses_unapplied ON wa_statuses (received_at) WHERE applied_at IS NULL;

-- Call detail records, one per SIP Call-ID (replays are idempotent).
CREATE TABLE calls (
	id		bigserial PRIMARY KEY,
	call_id		text NOT NULL UNIQUE,
	from_uri	text NOT NULL,
	to_uri		text NOT NULL,
	from_tag	text,
	to_tag		text,
	remote_addr	text,
	started_at	timestamptz NOT NULL,
	answered_at	timestamptz,
	ended_at	timestamptz NOT NULL,
	duration_ms	bigint NOT NULL,
	billsec_ms	bigint NOT NULL DEFAULT 0,
	disposition	text NOT NULL
			CHECK (disposition IN ('ANSWERED', 'CANCELLED', 'NO_ACK', 'REJECTED', 'FAILED')),
	sip_code	integer,
	hangup_cause	text,
	ended_by	text,
	recorded_at	timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX calls_recent ON calls (started_at DESC, id DESC);

-- Wake the session worker: any insert into the inbox or the outbox, by
-- any writer, notifies once per statement.
CREATE FUNCTION holdfast_notify_wa() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('holdfast_wa', TG_TABLE_NAME);
	RETURN NULL;
END $$;
CREATE TRIGGER wa_messages_notify AFTER INSERT ON wa_messages
	FOR EACH STATEMENT EXECUTE FUNCTION holdfast_notify_wa();
CREATE TRIGGER wa_outbox_notify AFTER INSERT ON wa_outbox
	FOR EACH STATEMENT EXECUTE FUNCTION holdfast_notify_wa();
CREATE TRIGGER wa_statuses_notify AFTER INSERT ON wa_statuses
	FOR EACH STATEMENT EXECUTE FUNCTION holdfast_notify_wa();

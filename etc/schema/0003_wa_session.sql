-- holdfast schema, version 3: the WhatsApp session worker's statements.
--
-- Each unit of work of holdfast-whatsapp is one call of a function here, in
-- its own short transaction (no transaction is ever held across an HTTP
-- send: the outbox uses a lease, claimed_until). Putting the steps in
-- PL/pgSQL gives each step a fresh snapshot taken after the previous one's
-- locks are held, which is what makes several instances safe:
--
-- * Inbound messages are claimed FOR UPDATE SKIP LOCKED, and only for
--   contacts whose transaction-scoped advisory lock this instance obtained:
--   one contact is handled by one instance at a time, in id order, so a
--   message is assigned once, never skipped, and in order per contact (a
--   claimed message with an earlier one of its contact left unclaimed is
--   put back, see holdfast_wa_assign).
-- * The open conversation of a contact is then locked FOR UPDATE: an idle
--   closer that got there first is waited for, after which the session is
--   no longer open and a new one is opened (the unique partial index
--   conversations_one_open is the backstop).
-- * The idle closer skips locked rows and never closes a session that still
--   has unassigned messages waiting.
--
-- Everything is CREATE OR REPLACE / IF NOT EXISTS so that applying the file
-- twice is harmless.

CREATE INDEX IF NOT EXISTS wa_messages_unassigned_contact
	ON wa_messages (phone_number_id, wa_id, id) WHERE conversation_id IS NULL;
CREATE INDEX IF NOT EXISTS wa_outbox_pending_contact
	ON wa_outbox (phone_number_id, to_wa_id, id) WHERE status = 'pending' AND wamid IS NULL;

-- The advisory lock key of a contact (class 30561, "wa").
CREATE OR REPLACE FUNCTION holdfast_wa_contact_key(p_phone text, p_wa_id text)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT hashtext(p_phone || '/' || p_wa_id)
$$;

-- The summary written on a conversation when it closes.
CREATE OR REPLACE FUNCTION holdfast_wa_summary(p_in bigint, p_out bigint,
    p_first timestamptz, p_last timestamptz, p_last_text text)
RETURNS text LANGUAGE sql STABLE AS $$
	SELECT format('%s in, %s out; first %s, last %s; last inbound: %s',
	    p_in, p_out,
	    coalesce(to_char(p_first AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '-'),
	    coalesce(to_char(p_last AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '-'),
	    CASE WHEN p_last_text IS NULL THEN '(none)'
	         WHEN length(p_last_text) > 200 THEN '"' || left(p_last_text, 200) || '..."'
	         ELSE '"' || p_last_text || '"' END)
$$;

-- Assigns up to p_batch unassigned messages to their contacts' open
-- sessions, opening sessions (and queueing p_auto_reply, when not empty,
-- for contacts who wrote) where none is open, and moves each contact's
-- 24-hour window. Returns how many were assigned and opened, and whether
-- unassigned messages remain that this call did not take (held by another
-- instance, or beyond the batch).
CREATE OR REPLACE FUNCTION holdfast_wa_assign(p_batch integer, p_auto_reply text,
    OUT assigned integer, OUT opened integer, OUT pending boolean)
LANGUAGE plpgsql SET enable_seqscan = off AS $$
DECLARE
	v_ids		bigint[];
	v_opened	bigint[];
	v_n		integer;
	v_now		timestamptz;
BEGIN
	SELECT coalesce(array_agg(s.id), '{}') INTO v_ids FROM (
		SELECT m.id FROM wa_messages m
		WHERE m.conversation_id IS NULL
		  AND pg_try_advisory_xact_lock(30561, holdfast_wa_contact_key(m.phone_number_id, m.wa_id))
		ORDER BY m.id LIMIT p_batch
		FOR UPDATE SKIP LOCKED) s;
	-- The scan may have skipped a contact's message while another instance
	-- held the contact, then taken a later one after that instance
	-- committed. Keep, per contact, only what precedes the first message
	-- left behind (this snapshot is fresh and the contacts are ours).
	IF cardinality(v_ids) > 0 THEN
		SELECT coalesce(array_agg(m.id), '{}') INTO v_ids FROM wa_messages m
		WHERE m.id = ANY (v_ids) AND NOT EXISTS (
			SELECT 1 FROM wa_messages e
			WHERE e.conversation_id IS NULL AND e.phone_number_id = m.phone_number_id
			  AND e.wa_id = m.wa_id AND e.id < m.id AND e.id <> ALL (v_ids));
	END IF;
	assigned := cardinality(v_ids);
	opened := 0;
	IF assigned = 0 THEN
		pending := EXISTS (SELECT 1 FROM wa_messages m WHERE m.conversation_id IS NULL);
		RETURN;
	END IF;
	-- Taken after the contact locks: per contact, processed_at follows id.
	v_now := clock_timestamp();

	PERFORM 1 FROM conversations c
	WHERE c.status = 'open' AND (c.phone_number_id, c.wa_id) IN (
		SELECT m.phone_number_id, m.wa_id FROM wa_messages m WHERE m.id = ANY (v_ids))
	ORDER BY c.id
	FOR UPDATE OF c;

	WITH ins AS (
		INSERT INTO conversations (phone_number_id, wa_id, status, opened_at,
		    last_message_at, first_message_at)
		SELECT m.phone_number_id, m.wa_id, 'open', min(m.sent_at), max(m.sent_at), min(m.sent_at)
		FROM wa_messages m WHERE m.id = ANY (v_ids)
		GROUP BY m.phone_number_id, m.wa_id
		ORDER BY m.phone_number_id, m.wa_id
		ON CONFLICT (phone_number_id, wa_id) WHERE status = 'open' DO NOTHING
		RETURNING id)
	SELECT coalesce(array_agg(ins.id), '{}') INTO v_opened FROM ins;
	opened := cardinality(v_opened);

	UPDATE conversations c SET
		msgs_in = c.msgs_in + a.n_in,
		msgs_out = c.msgs_out + a.n_out,
		last_message_at = greatest(c.last_message_at, a.last_at),
		first_message_at = least(c.first_message_at, a.first_at),
		last_inbound_text = CASE
		    WHEN a.last_in_at IS NOT NULL AND (c.last_inbound_text IS NULL
		        OR a.last_in_at >= c.last_message_at) THEN a.last_in_text
		    ELSE c.last_inbound_text END
	FROM (SELECT m.phone_number_id, m.wa_id,
		    count(*) FILTER (WHERE m.direction = 'in') AS n_in,
		    count(*) FILTER (WHERE m.direction = 'out') AS n_out,
		    min(m.sent_at) AS first_at, max(m.sent_at) AS last_at,
		    max(m.sent_at) FILTER (WHERE m.direction = 'in') AS last_in_at,
		    (array_agg(coalesce(m.body, '[' || m.msg_type || ']')
		        ORDER BY m.sent_at DESC, m.id DESC)
		        FILTER (WHERE m.direction = 'in'))[1] AS last_in_text
		FROM wa_messages m WHERE m.id = ANY (v_ids)
		GROUP BY m.phone_number_id, m.wa_id) a
	WHERE c.status = 'open' AND c.phone_number_id = a.phone_number_id AND c.wa_id = a.wa_id;

	UPDATE wa_messages m SET conversation_id = c.id, processed_at = v_now
	FROM conversations c
	WHERE m.id = ANY (v_ids) AND c.status = 'open'
	  AND c.phone_number_id = m.phone_number_id AND c.wa_id = m.wa_id;
	GET DIAGNOSTICS v_n = ROW_COUNT;
	IF v_n <> assigned THEN
		RAISE EXCEPTION 'holdfast_wa_assign: assigned % of % claimed messages', v_n, assigned;
	END IF;

	INSERT INTO wa_contacts (phone_number_id, wa_id, last_inbound_at)
	SELECT m.phone_number_id, m.wa_id, max(m.sent_at)
	FROM wa_messages m WHERE m.id = ANY (v_ids) AND m.direction = 'in'
	GROUP BY m.phone_number_id, m.wa_id
	ORDER BY m.phone_number_id, m.wa_id
	ON CONFLICT (phone_number_id, wa_id) DO UPDATE
	SET last_inbound_at = greatest(wa_contacts.last_inbound_at, excluded.last_inbound_at);

	IF opened > 0 AND coalesce(p_auto_reply, '') <> '' THEN
		INSERT INTO wa_outbox (conversation_id, phone_number_id, to_wa_id, body)
		SELECT c.id, c.phone_number_id, c.wa_id, p_auto_reply
		FROM conversations c
		WHERE c.id = ANY (v_opened) AND EXISTS (
			SELECT 1 FROM wa_messages m WHERE m.id = ANY (v_ids) AND m.direction = 'in'
			  AND m.phone_number_id = c.phone_number_id AND m.wa_id = c.wa_id)
		ORDER BY c.id;
	END IF;
	pending := assigned = p_batch
	    OR EXISTS (SELECT 1 FROM wa_messages m WHERE m.conversation_id IS NULL);
END $$;

-- Closes up to p_batch sessions silent for p_idle_ms, with counts and
-- timestamps recomputed from wa_messages (the truth) into the summary.
CREATE OR REPLACE FUNCTION holdfast_wa_close_idle(p_idle_ms bigint, p_batch integer)
RETURNS integer LANGUAGE sql AS $$
	WITH idle AS (
		SELECT c.id FROM conversations c
		WHERE c.status = 'open'
		  AND c.last_message_at < now() - p_idle_ms * interval '1 millisecond'
		  AND NOT EXISTS (SELECT 1 FROM wa_messages m WHERE m.conversation_id IS NULL
		      AND m.phone_number_id = c.phone_number_id AND m.wa_id = c.wa_id)
		ORDER BY c.last_message_at LIMIT p_batch
		FOR UPDATE SKIP LOCKED),
	stats AS (
		SELECT i.id,
		    count(m.id) FILTER (WHERE m.direction = 'in') AS n_in,
		    count(m.id) FILTER (WHERE m.direction = 'out') AS n_out,
		    min(m.sent_at) AS first_at, max(m.sent_at) AS last_at,
		    (array_agg(coalesce(m.body, '[' || m.msg_type || ']')
		        ORDER BY m.sent_at DESC, m.id DESC)
		        FILTER (WHERE m.direction = 'in'))[1] AS last_text
		FROM idle i LEFT JOIN wa_messages m ON m.conversation_id = i.id
		GROUP BY i.id),
	closed AS (
		UPDATE conversations c SET status = 'closed', closed_at = now(),
		    msgs_in = s.n_in, msgs_out = s.n_out,
		    first_message_at = coalesce(s.first_at, c.first_message_at),
		    last_inbound_text = coalesce(s.last_text, c.last_inbound_text),
		    summary = holdfast_wa_summary(s.n_in, s.n_out,
		        coalesce(s.first_at, c.first_message_at),
		        greatest(s.last_at, c.last_message_at),
		        coalesce(s.last_text, c.last_inbound_text))
		FROM stats s WHERE c.id = s.id
		RETURNING 1)
	SELECT count(*)::integer FROM closed
$$;

-- Delivery statuses only move forward: pending < sent < failed < delivered
-- < read (played counts as read).
CREATE OR REPLACE FUNCTION holdfast_wa_status_rank(p_status text)
RETURNS integer LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
	SELECT CASE p_status WHEN 'pending' THEN 0 WHEN 'sent' THEN 1 WHEN 'failed' THEN 2
	    WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 4 ELSE -1 END
$$;

-- Applies up to p_batch received statuses to the outbox. A status whose
-- wamid is not (yet) in the outbox waits: the webhook may be faster than
-- the sender's own UPDATE; after 10 minutes it is marked applied anyway
-- (a message sent by something else).
CREATE OR REPLACE FUNCTION holdfast_wa_apply_statuses(p_batch integer)
RETURNS integer LANGUAGE sql AS $$
	WITH s AS (
		SELECT st.wamid, st.status, st.errors FROM wa_statuses st
		WHERE st.applied_at IS NULL
		  AND (EXISTS (SELECT 1 FROM wa_outbox o WHERE o.wamid = st.wamid)
		       OR st.received_at < now() - interval '10 minutes')
		ORDER BY st.received_at LIMIT p_batch
		FOR UPDATE SKIP LOCKED),
	best AS (
		SELECT DISTINCT ON (s.wamid) s.wamid,
		    CASE WHEN s.status = 'played' THEN 'read' ELSE s.status END AS status,
		    s.errors, holdfast_wa_status_rank(s.status) AS rank
		FROM s WHERE holdfast_wa_status_rank(s.status) > 0
		ORDER BY s.wamid, holdfast_wa_status_rank(s.status) DESC),
	moved AS (
		UPDATE wa_outbox o SET status = b.status, updated_at = now(),
		    last_error = CASE WHEN b.status = 'failed' THEN
		        coalesce('status failed: ' || (b.errors->0->>'code') || ' '
		            || coalesce(b.errors->0->>'title', b.errors->0->>'message', ''),
		            'status failed')
		        ELSE o.last_error END
		FROM best b
		WHERE o.wamid = b.wamid AND holdfast_wa_status_rank(o.status) < b.rank
		RETURNING 1),
	marked AS (
		UPDATE wa_statuses st SET applied_at = now()
		FROM s WHERE st.wamid = s.wamid AND st.status = s.status
		RETURNING 1)
	SELECT count(*)::integer FROM marked
$$;

-- Claims up to p_batch outbox rows for sending under a lease of p_lease_ms.
-- Per contact only the oldest unsent row is eligible, so replies go out in
-- order. Due rows outside the contact's 24-hour window are failed here,
-- without an API call (free-form messages are refused there).
CREATE OR REPLACE FUNCTION holdfast_wa_outbox_claim(p_batch integer, p_lease_ms bigint)
RETURNS TABLE (id bigint, phone_number_id text, to_wa_id text, body text, attempts integer)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
BEGIN
	UPDATE wa_outbox o SET status = 'failed', claimed_until = NULL, updated_at = now(),
	    last_error = 'outside the 24-hour customer service window: '
	        || 'free-form messages need a template (not sent)'
	WHERE o.id IN (
		SELECT d.id FROM wa_outbox d
		WHERE d.status = 'pending' AND d.wamid IS NULL AND d.next_attempt_at <= now()
		  AND (d.claimed_until IS NULL OR d.claimed_until < now())
		  AND NOT EXISTS (SELECT 1 FROM wa_contacts k
		      WHERE k.phone_number_id = d.phone_number_id AND k.wa_id = d.to_wa_id
		        AND k.last_inbound_at >= now() - interval '24 hours')
		ORDER BY d.id LIMIT p_batch
		FOR UPDATE SKIP LOCKED);

	RETURN QUERY
	UPDATE wa_outbox o SET attempts = o.attempts + 1, updated_at = now(),
	    claimed_until = now() + p_lease_ms * interval '1 millisecond'
	WHERE o.id IN (
		SELECT d.id FROM wa_outbox d
		WHERE d.status = 'pending' AND d.wamid IS NULL AND d.next_attempt_at <= now()
		  AND (d.claimed_until IS NULL OR d.claimed_until < now())
		  AND NOT EXISTS (SELECT 1 FROM wa_outbox p
		      WHERE p.phone_number_id = d.phone_number_id AND p.to_wa_id = d.to_wa_id
		        AND p.status = 'pending' AND p.wamid IS NULL AND p.id < d.id)
		  AND EXISTS (SELECT 1 FROM wa_contacts k
		      WHERE k.phone_number_id = d.phone_number_id AND k.wa_id = d.to_wa_id
		        AND k.last_inbound_at >= now() - interval '24 hours')
		ORDER BY d.id LIMIT p_batch
		FOR UPDATE SKIP LOCKED)
	RETURNING o.id, o.phone_number_id, o.to_wa_id, o.body, o.attempts;
END $$;

-- A send was accepted: keep the wamid (the row is never sent again), copy
-- the message into wa_messages, count it on its conversation.
CREATE OR REPLACE FUNCTION holdfast_wa_outbox_sent(p_id bigint, p_wamid text)
RETURNS integer LANGUAGE sql AS $$
	WITH o AS (
		UPDATE wa_outbox SET status = 'sent', wamid = p_wamid, claimed_until = NULL,
		    last_error = NULL, updated_at = now()
		WHERE id = p_id AND wamid IS NULL
		RETURNING id, conversation_id, phone_number_id, to_wa_id, body),
	m AS (
		INSERT INTO wa_messages (wamid, phone_number_id, wa_id, direction, body,
		    sent_at, conversation_id, processed_at)
		SELECT p_wamid, o.phone_number_id, o.to_wa_id, 'out', o.body, now(),
		    o.conversation_id, CASE WHEN o.conversation_id IS NULL THEN NULL ELSE now() END
		FROM o
		ON CONFLICT (wamid) DO NOTHING),
	c AS (
		UPDATE conversations c SET msgs_out = c.msgs_out + 1
		FROM o WHERE c.id = o.conversation_id)
	SELECT count(*)::integer FROM o
$$;

-- A send failed. Retryable failures wait p_delay_ms, unless the row has
-- used p_max_attempts; permanent ones (p_delay_ms < 0) fail at once.
CREATE OR REPLACE FUNCTION holdfast_wa_outbox_failed(p_id bigint, p_error text,
    p_delay_ms bigint, p_max_attempts integer)
RETURNS text LANGUAGE sql AS $$
	UPDATE wa_outbox SET claimed_until = NULL, updated_at = now(),
	    status = CASE WHEN p_delay_ms < 0 OR attempts >= p_max_attempts
	        THEN 'failed' ELSE 'pending' END,
	    last_error = CASE WHEN p_delay_ms >= 0 AND attempts >= p_max_attempts
	        THEN format('gave up after %s attempts: %s', attempts, p_error)
	        ELSE p_error END,
	    next_attempt_at = now() + greatest(p_delay_ms, 0) * interval '1 millisecond'
	WHERE id = p_id AND wamid IS NULL AND status = 'pending'
	RETURNING status
$$;

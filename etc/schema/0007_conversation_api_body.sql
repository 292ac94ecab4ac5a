-- GET /api/conversations/{id}'s JSON, stored with the conversation and kept
-- exact by triggers, in the transaction of every write that changes it.
--
-- Why: rendering the body on every read (the conversation, its last 1000
-- messages, json_build_object for each) cost PostgreSQL about 3x the CPU
-- of the primary-key read itself; the busiest route now reads one column.
-- The render moves to the writes, which are far fewer than the reads:
-- - a conversation inserted, or updated in a column the body shows,
--   renders in a BEFORE row trigger;
-- - messages inserted, updated, deleted or truncated re-render the
--   conversations they belong (or belonged) to, once per statement, from
--   statement triggers over the transition tables. Messages not yet
--   assigned to a conversation (the webhook's inserts) cost nothing.
-- The cost of one render grows with the conversation's messages (at most
-- the last 1000 are in the body); docs/design.md gives the measured
-- figures.
-- Consistency: a row trigger runs once the conversation row is locked,
-- and under READ COMMITTED each statement of a PL/pgSQL trigger function
-- (kept VOLATILE, as is the render) takes a new snapshot: of two
-- transactions writing messages of one conversation, the later render
-- sees the earlier's committed messages (tests/integration/test_conv_body).
-- Timestamps are rendered in UTC whatever the writer's TimeZone, so the
-- body never depends on which session wrote last.
ALTER TABLE conversations ADD COLUMN IF NOT EXISTS api_body text;

CREATE OR REPLACE FUNCTION holdfast_conversation_render(c conversations)
RETURNS text LANGUAGE plpgsql VOLATILE SET timezone = 'UTC' AS $$
BEGIN
	RETURN json_build_object('id', c.id, 'phone_number_id', c.phone_number_id,
		'wa_id', c.wa_id, 'status', c.status, 'opened_at', c.opened_at,
		'last_message_at', c.last_message_at, 'closed_at', c.closed_at,
		'summary', c.summary, 'msgs_in', c.msgs_in, 'msgs_out', c.msgs_out,
		'messages', coalesce((SELECT json_agg(json_build_object(
			'id', m.id, 'wamid', m.wamid, 'direction', m.direction,
			'type', m.msg_type, 'body', m.body, 'sent_at', m.sent_at)
			ORDER BY m.sent_at, m.id)
		FROM (SELECT * FROM wa_messages WHERE conversation_id = c.id
			ORDER BY sent_at DESC, id DESC LIMIT 1000) m), '[]'::json))::text;
END $$;

-- Renders when the row is new, when an update sets api_body (to anything:
-- the message triggers set NULL; no other value can be written), or when
-- a column the body shows changed; an update of other columns only
-- (last_inbound_text, first_message_at) keeps the body.
CREATE OR REPLACE FUNCTION holdfast_conversation_api_body() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'INSERT' OR NEW.api_body IS NULL OR
	    NEW.api_body IS DISTINCT FROM OLD.api_body OR
	    (NEW.id, NEW.phone_number_id, NEW.wa_id, NEW.status, NEW.opened_at,
	     NEW.last_message_at, NEW.closed_at, NEW.summary, NEW.msgs_in, NEW.msgs_out)
	    IS DISTINCT FROM
	    (OLD.id, OLD.phone_number_id, OLD.wa_id, OLD.status, OLD.opened_at,
	     OLD.last_message_at, OLD.closed_at, OLD.summary, OLD.msgs_in, OLD.msgs_out) THEN
		NEW.api_body := holdfast_conversation_render(NEW);
	END IF;
	RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER conversations_api_body BEFORE INSERT OR UPDATE ON conversations
	FOR EACH ROW EXECUTE FUNCTION holdfast_conversation_api_body();

-- p_ids' conversations render again: locked in id order first (two
-- statements touching the same conversations cannot deadlock on them),
-- then updated, which fires the row trigger above.
CREATE OR REPLACE FUNCTION holdfast_conversation_rerender(p_ids bigint[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
	IF cardinality(p_ids) = 0 THEN
		RETURN;
	END IF;
	PERFORM 1 FROM conversations c WHERE c.id = ANY (p_ids) ORDER BY c.id FOR UPDATE;
	UPDATE conversations c SET api_body = NULL WHERE c.id = ANY (p_ids);
END $$;

CREATE OR REPLACE FUNCTION holdfast_wa_messages_api_body() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	v_ids bigint[];
BEGIN
	IF TG_OP = 'TRUNCATE' THEN
		UPDATE conversations SET api_body = NULL;
		RETURN NULL;
	ELSIF TG_OP = 'INSERT' THEN
		SELECT array_agg(DISTINCT n.conversation_id) INTO v_ids
		FROM wa_messages_new n WHERE n.conversation_id IS NOT NULL;
	ELSIF TG_OP = 'DELETE' THEN
		SELECT array_agg(DISTINCT o.conversation_id) INTO v_ids
		FROM wa_messages_old o WHERE o.conversation_id IS NOT NULL;
	ELSE
		-- only the rows whose shown columns changed (processed_at alone
		-- changes nothing), before and after
		SELECT array_agg(DISTINCT x.cid) INTO v_ids FROM (
			SELECT unnest(ARRAY[o.conversation_id, n.conversation_id]) AS cid
			FROM wa_messages_old o JOIN wa_messages_new n ON n.id = o.id
			WHERE (o.conversation_id, o.wamid, o.direction, o.msg_type, o.body, o.sent_at)
			    IS DISTINCT FROM
			    (n.conversation_id, n.wamid, n.direction, n.msg_type, n.body, n.sent_at)) x
		WHERE x.cid IS NOT NULL;
	END IF;
	PERFORM holdfast_conversation_rerender(coalesce(v_ids, '{}'));
	RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER wa_messages_api_body_ins AFTER INSERT ON wa_messages
	REFERENCING NEW TABLE AS wa_messages_new
	FOR EACH STATEMENT EXECUTE FUNCTION holdfast_wa_messages_api_body();
CREATE OR REPLACE TRIGGER wa_messages_api_body_upd AFTER UPDATE ON wa_messages
	REFERENCING OLD TABLE AS wa_messages_old NEW TABLE AS wa_messages_new
	FOR EACH STATEMENT EXECUTE FUNCTION holdfast_wa_messages_api_body();
CREATE OR REPLACE TRIGGER wa_messages_api_body_del AFTER DELETE ON wa_messages
	REFERENCING OLD TABLE AS wa_messages_old
	FOR EACH STATEMENT EXECUTE FUNCTION holdfast_wa_messages_api_body();
CREATE OR REPLACE TRIGGER wa_messages_api_body_trunc AFTER TRUNCATE ON wa_messages
	FOR EACH STATEMENT EXECUTE FUNCTION holdfast_wa_messages_api_body();

-- Every existing conversation renders once, here (a rewrite of the table:
-- on a large one, the upgrade's longest step).
UPDATE conversations SET api_body = NULL;

-- The reads: one column. A NULL body cannot outlive a statement (the row
-- trigger renders it), but a row written with triggers disabled (a
-- restore with session_replication_role = replica) still answers exactly.
CREATE OR REPLACE FUNCTION holdfast_http_conversation_bodies(p_ids bigint[])
RETURNS TABLE (i bigint, ok boolean, body text)
LANGUAGE plpgsql STABLE ROWS 32 SET plan_cache_mode = force_generic_plan AS $$
BEGIN
	RETURN QUERY SELECT k.i, true,
		CASE WHEN c.id IS NULL THEN NULL
		     ELSE coalesce(c.api_body, holdfast_conversation_render(c)) END
	FROM unnest(p_ids) WITH ORDINALITY AS k(id, i)
	LEFT JOIN conversations c ON c.id = k.id
	ORDER BY k.i;
END $$;

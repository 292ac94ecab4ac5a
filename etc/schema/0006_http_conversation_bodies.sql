-- holdfast-http: GET /api/conversations/{id} for many ids in one statement.
-- When requests for single conversations arrive together, the worker asks
-- for all of them at once (common/db: lookups); one row per id given, in
-- the order given: its 1-based position i, ok (always true: the token was
-- checked), and the JSON body, NULL when there is no such conversation.
-- PL/pgSQL with plan_cache_mode = force_generic_plan: its query is planned
-- once per session. (Inlined as a LANGUAGE sql function, the caller's
-- prepared statement took custom plans whenever its first batches were
-- small, since the planner costs unnest of a short array below the generic
-- estimate, and then planned again on every execution: 3x the CPU.)
-- holdfast_http_conversation_body (one id), which the token-checking
-- holdfast_http_conversation calls, now reads through it as well, so the
-- JSON shape is defined here only.
CREATE OR REPLACE FUNCTION holdfast_http_conversation_bodies(p_ids bigint[])
RETURNS TABLE (i bigint, ok boolean, body text)
LANGUAGE plpgsql STABLE ROWS 32 SET plan_cache_mode = force_generic_plan AS $$
BEGIN
	RETURN QUERY SELECT k.i, true, CASE WHEN c.id IS NOT NULL THEN json_build_object(
		'id', c.id, 'phone_number_id', c.phone_number_id,
		'wa_id', c.wa_id, 'status', c.status, 'opened_at', c.opened_at,
		'last_message_at', c.last_message_at, 'closed_at', c.closed_at,
		'summary', c.summary, 'msgs_in', c.msgs_in, 'msgs_out', c.msgs_out,
		'messages', coalesce((SELECT json_agg(json_build_object(
			'id', m.id, 'wamid', m.wamid, 'direction', m.direction,
			'type', m.msg_type, 'body', m.body, 'sent_at', m.sent_at)
			ORDER BY m.sent_at, m.id)
		FROM (SELECT * FROM wa_messages WHERE conversation_id = c.id
			ORDER BY sent_at DESC, id DESC LIMIT 1000) m), '[]'::json))::text END
	FROM unnest(p_ids) WITH ORDINALITY AS k(id, i)
	LEFT JOIN conversations c ON c.id = k.id
	ORDER BY k.i;
END $$;

-- PL/pgSQL keeps this one's plan for the session (a LANGUAGE sql function
-- called in FROM without being inlined would be planned on every call).
CREATE OR REPLACE FUNCTION holdfast_http_conversation_body(p_id bigint,
	OUT ok boolean, OUT body text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	SELECT b.ok, b.body INTO ok, body
	FROM holdfast_http_conversation_bodies(ARRAY[p_id]) b;
END $$;

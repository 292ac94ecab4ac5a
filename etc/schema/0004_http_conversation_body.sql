-- holdfast-http: GET /api/conversations/{id} for a bearer token the
-- worker already trusts (its token cache, token_cache_ttl): the same JSON
-- without the token check, so the busiest route costs the DB one indexed
-- read of the conversation and its messages. holdfast_http_conversation
-- (0002) keeps its signature and answer and now calls this one, so the
-- JSON shape is written once. Both PL/pgSQL: their plans live as long as
-- the session (a LANGUAGE sql function here would be planned on every
-- call, about 2x slower). ok is always true here; body is NULL when the
-- conversation does not exist. CREATE OR REPLACE: re-applying is harmless.
CREATE OR REPLACE FUNCTION holdfast_http_conversation_body(p_id bigint,
	OUT ok boolean, OUT body text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	ok := true;
	SELECT json_build_object('id', c.id, 'phone_number_id', c.phone_number_id,
		'wa_id', c.wa_id, 'status', c.status, 'opened_at', c.opened_at,
		'last_message_at', c.last_message_at, 'closed_at', c.closed_at,
		'summary', c.summary, 'msgs_in', c.msgs_in, 'msgs_out', c.msgs_out,
		'messages', coalesce((SELECT json_agg(json_build_object(
			'id', m.id, 'wamid', m.wamid, 'direction', m.direction,
			'type', m.msg_type, 'body', m.body, 'sent_at', m.sent_at)
			ORDER BY m.sent_at, m.id)
		FROM (SELECT * FROM wa_messages WHERE conversation_id = c.id
			ORDER BY sent_at DESC, id DESC LIMIT 1000) m), '[]'::json))::text
	INTO body
	FROM conversations c WHERE c.id = p_id;
END $$;

CREATE OR REPLACE FUNCTION holdfast_http_conversation(p_token_hash bytea, p_id bigint,
	OUT ok boolean, OUT body text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
	ok := EXISTS (SELECT 1 FROM auth_tokens t JOIN users u ON u.id = t.user_id
		WHERE t.token_hash = p_token_hash AND t.expires_at > now()
		AND NOT u.disabled);
	body := NULL;
	IF ok THEN
		SELECT b.body INTO body FROM holdfast_http_conversation_body(p_id) b;
	END IF;
END $$;

#!/bin/sh
# webhook.sh: an [event:NAME] listener that POSTs each event to a URL.
#
#   [event:webhook]
#   command = /usr/share/doc/holdfast/examples/events/webhook.sh https://hooks.example.com/holdfast
#   events = FATAL, BACKOFF, hung, db, exit
#   rate_limit = 30
#   timeout = 10s
#
# The body is the event's JSON as holdfastd gives it on stdin
# ({"seq":..,"time":..,"type":"state","name":"http:0",...}). With
# HOLDFAST_WEBHOOK_FORMAT=text the body is {"text":"..."}, the shape Slack,
# Mattermost and Rocket.Chat incoming webhooks take. A bearer token, when
# needed, comes from the file HOLDFAST_WEBHOOK_TOKEN_FILE names (never from
# the command line, which `ps` shows). A failed POST exits non-zero, so
# holdfastd logs it ([EVENT_HOOK] ... result=failed).
set -eu
url=${1:-${HOLDFAST_WEBHOOK_URL:-}}
if [ -z "$url" ]; then
	echo "webhook.sh: usage: webhook.sh URL (or HOLDFAST_WEBHOOK_URL)" >&2
	exit 2
fi
body=$(cat)
if [ "${HOLDFAST_WEBHOOK_FORMAT:-json}" = text ]; then
	what="${HOLDFAST_EVENT_TYPE:-event}"
	[ -n "${HOLDFAST_EVENT_NAME:-}" ] && what="$what ${HOLDFAST_EVENT_NAME}"
	[ -n "${HOLDFAST_EVENT_TO:-}" ] && what="$what -> ${HOLDFAST_EVENT_TO}"
	[ -n "${HOLDFAST_EVENT_REASON:-}" ] && what="$what (${HOLDFAST_EVENT_REASON})"
	msg="holdfast on $(hostname): $what"
	# JSON-escape backslashes and quotes; event fields hold no newline
	msg=$(printf '%s' "$msg" | sed 's/\\/\\\\/g; s/"/\\"/g')
	body="{\"text\":\"$msg\"}"
fi
set -- --silent --show-error --fail --max-time 8 -X POST \
	-H 'Content-Type: application/json' --data-binary @-
if [ -n "${HOLDFAST_WEBHOOK_TOKEN_FILE:-}" ]; then
	set -- "$@" -H "Authorization: Bearer $(cat "$HOLDFAST_WEBHOOK_TOKEN_FILE")"
fi
printf '%s' "$body" | curl "$@" "$url" >/dev/null

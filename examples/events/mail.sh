#!/bin/sh
# mail.sh: an [event:NAME] listener that mails each event.
#
#   [event:mail]
#   command = /usr/share/doc/holdfast/examples/events/mail.sh ops@example.com
#   events = FATAL, hung, db
#   rate_limit = 6
#   timeout = 30s
#
# Uses sendmail (any MTA: exim4, postfix, msmtp-mta, nullmailer) and falls
# back to mail(1) (bsd-mailx, mailutils). The subject says what happened;
# the body is the event's fields and its JSON. A failure to hand the mail
# over exits non-zero, and holdfastd logs it ([EVENT_HOOK] ... result=failed).
set -eu
to=${1:-${HOLDFAST_MAIL_TO:-}}
if [ -z "$to" ]; then
	echo "mail.sh: usage: mail.sh ADDRESS (or HOLDFAST_MAIL_TO)" >&2
	exit 2
fi
json=$(cat)
subject="[holdfast] $(hostname): ${HOLDFAST_EVENT_TYPE:-event}"
[ -n "${HOLDFAST_EVENT_NAME:-}" ] && subject="$subject ${HOLDFAST_EVENT_NAME}"
[ -n "${HOLDFAST_EVENT_TO:-}" ] && subject="$subject -> ${HOLDFAST_EVENT_TO}"
[ -n "${HOLDFAST_EVENT_STATE:-}" ] && subject="$subject database ${HOLDFAST_EVENT_STATE}"
body=$(env | grep '^HOLDFAST_EVENT_' | grep -v '^HOLDFAST_EVENT_JSON=' | sort
	printf '\n%s\n' "$json")
if command -v sendmail >/dev/null 2>&1 || [ -x /usr/sbin/sendmail ]; then
	PATH=$PATH:/usr/sbin:/usr/lib
	printf 'To: %s\nSubject: %s\nContent-Type: text/plain; charset=utf-8\n\n%s\n' \
	    "$to" "$subject" "$body" | sendmail -oi -- "$to"
elif command -v mail >/dev/null 2>&1; then
	printf '%s\n' "$body" | mail -s "$subject" -- "$to"
else
	echo "mail.sh: neither sendmail nor mail is installed" >&2
	exit 1
fi

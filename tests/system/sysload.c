/*
 * sysload: the HTTP load of the system tests, as a user's clients make it.
 *
 *   sysload -p PORT -s APP_SECRET -u EMAIL -w PASSWORD -t TAG -o DIR
 *           [-r REQ_PER_S] [-d DURATION_MS]
 *
 * Cycles through logins, conversation reads (with the token of the last
 * good login) and signed WhatsApp webhooks (HMAC-SHA256 of the raw body
 * with the app secret, each carrying a fresh wamid "wamid.TAG.N"), one
 * request per fresh connection, at a bounded rate for a bounded time.
 * It records every status code and every connection error or timeout:
 *   DIR/TAG.stats   one line "key=value ..." (s200 s401 s429 s500 s503
 *                   sother connerr timeout webhooks acked)
 *   DIR/TAG.acked   the wamid of every webhook answered 200, one a line
 * Both are written at the end, and on SIGTERM (then it exits at once).
 * Exit 0 always when it ran; the test judges the figures.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "tu.h"

#define SL_TIMEOUT_MS	15000	/* a request slower than this is a failure */

struct sl_stats {
	long	s200, s401, s429, s500, s503, sother, connerr, timeout;
	long	webhooks, acked;
};

static struct sl_stats	 st;
static volatile sig_atomic_t sl_stop;
static FILE		*sl_acked;
static const char	*sl_dir, *sl_tag;

static long long
sl_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Counts code; a connection error or timeout is also logged (stderr)
 * with the time, so it can be matched with holdfastd's log. */
static void
sl_count(int code, const char *path)
{
	if (code < 0) {
		struct timespec	 ts;
		struct tm	 tm;
		char		 when[32];

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof(when), "%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ld %s: %s\n", when, ts.tv_nsec / 1000000, path,
		    code == -1 ? "connection error" : "timeout");
	}
	switch (code) {
	case 200: st.s200++; break;
	case 401: st.s401++; break;
	case 429: st.s429++; break;
	case 500: st.s500++; break;
	case 503: st.s503++; break;
	case -1: st.connerr++; break;
	case -2: st.timeout++; break;
	default: st.sother++; break;
	}
}

static void
sl_write_stats(void)
{
	char	path[4096];
	FILE	*f;

	snprintf(path, sizeof(path), "%s/%s.stats", sl_dir, sl_tag);
	if ((f = fopen(path, "we")) == NULL)
		return;
	fprintf(f, "s200=%ld s401=%ld s429=%ld s500=%ld s503=%ld sother=%ld "
	    "connerr=%ld timeout=%ld webhooks=%ld acked=%ld\n", st.s200, st.s401,
	    st.s429, st.s500, st.s503, st.sother, st.connerr, st.timeout,
	    st.webhooks, st.acked);
	fclose(f);
}

/* X-Hub-Signature-256's value for body. */
static void
sl_sign(const char *secret, const char *body, char out[72])
{
	unsigned char	md[EVP_MAX_MD_SIZE];
	unsigned int	mdlen = 0;

	HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)body,
	    strlen(body), md, &mdlen);
	strcpy(out, "sha256=");
	for (unsigned int i = 0; i < mdlen && i < 32; i++)
		sprintf(out + 7 + 2 * i, "%02x", md[i]);
}

static void
sl_webhook(int port, const char *secret, long n)
{
	char	body[1024], sig[72], hdr[256], wamid[128];
	int	code;

	snprintf(wamid, sizeof(wamid), "wamid.%s.%ld", sl_tag, n);
	/* a handful of senders, so sessions collect several messages */
	snprintf(body, sizeof(body),
	    "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\","
	    "\"changes\":[{\"value\":{\"messaging_product\":\"whatsapp\","
	    "\"metadata\":{\"display_phone_number\":\"15550783881\","
	    "\"phone_number_id\":\"106540352242922\"},\"contacts\":[{\"profile\":"
	    "{\"name\":\"Load %ld\"},\"wa_id\":\"1650555%04ld\"}],\"messages\":[{"
	    "\"from\":\"1650555%04ld\",\"id\":\"%s\",\"timestamp\":\"%lld\","
	    "\"type\":\"text\",\"text\":{\"body\":\"load message %ld\"}}]},"
	    "\"field\":\"messages\"}]}]}", n % 7, n % 7, n % 7, wamid,
	    (long long)time(NULL), n);
	sl_sign(secret, body, sig);
	snprintf(hdr, sizeof(hdr), "Content-Type: application/json\n"
	    "X-Hub-Signature-256: %s", sig);
	st.webhooks++;
	code = tu_http(port, "POST", "/webhooks/whatsapp", hdr, body, strlen(body),
	    NULL, NULL, SL_TIMEOUT_MS);
	sl_count(code, "/webhooks/whatsapp");
	if (code == 200) {
		st.acked++;
		fprintf(sl_acked, "%s\n", wamid);
		fflush(sl_acked);
	}
}

/* Logs in; keeps the token of a good answer in tok. */
static void
sl_login(int port, const char *email, const char *pw, char *tok, size_t toklen)
{
	char	body[512], *rb = NULL, *p, *q;
	int	code;

	snprintf(body, sizeof(body), "{\"email\":\"%s\",\"password\":\"%s\"}", email, pw);
	code = tu_http(port, "POST", "/api/auth/login", "Content-Type: application/json",
	    body, strlen(body), &rb, NULL, SL_TIMEOUT_MS);
	sl_count(code, "/api/auth/login");
	if (code == 200 && rb != NULL && (p = strstr(rb, "\"token\":\"")) != NULL) {
		p += 9;
		if ((q = strchr(p, '"')) != NULL && (size_t)(q - p) < toklen) {
			memcpy(tok, p, q - p);
			tok[q - p] = '\0';
		}
	}
	free(rb);
}

static void
sl_read(int port, const char *tok)
{
	char hdr[512];

	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok[0] ? tok : "none");
	sl_count(tu_http(port, "GET", "/api/conversations", hdr, NULL, 0, NULL, NULL,
	    SL_TIMEOUT_MS), "/api/conversations");
}

static void
sl_on_term(int sig)
{
	(void)sig;
	sl_stop = 1;
}

int
main(int argc, char **argv)
{
	const char	*secret = "", *email = "", *pw = "";
	char		 path[4096], tok[256] = "";
	int		 port = 0, rate = 10, c;
	long long	 dur = 5000, start, next;
	long		 n = 0, wh = 0;

	while ((c = getopt(argc, argv, "p:s:u:w:t:o:r:d:")) != -1) {
		switch (c) {
		case 'p': port = atoi(optarg); break;
		case 's': secret = optarg; break;
		case 'u': email = optarg; break;
		case 'w': pw = optarg; break;
		case 't': sl_tag = optarg; break;
		case 'o': sl_dir = optarg; break;
		case 'r': rate = atoi(optarg); break;
		case 'd': dur = atoll(optarg); break;
		default: return 2;
		}
	}
	if (port <= 0 || sl_tag == NULL || sl_dir == NULL || rate <= 0) {
		fprintf(stderr, "usage: sysload -p PORT -s SECRET -u EMAIL -w PW "
		    "-t TAG -o DIR [-r RATE] [-d MS]\n");
		return 2;
	}
	signal(SIGTERM, sl_on_term);
	signal(SIGPIPE, SIG_IGN);
	snprintf(path, sizeof(path), "%s/%s.acked", sl_dir, sl_tag);
	if ((sl_acked = fopen(path, "we")) == NULL) {
		fprintf(stderr, "fopen(%s): %s\n", path, strerror(errno));
		return 1;
	}
	start = next = sl_now_ms();
	while (!sl_stop && sl_now_ms() - start < dur) {
		/* 1 login, 3 reads, 6 webhooks in every 10 requests */
		switch (n++ % 10) {
		case 0: sl_login(port, email, pw, tok, sizeof(tok)); break;
		case 1: case 4: case 7: sl_read(port, tok); break;
		default: sl_webhook(port, secret, wh++); break;
		}
		next += 1000 / rate;
		if (next < sl_now_ms() - 1000)	/* after a stall: no burst */
			next = sl_now_ms();
		while (!sl_stop && sl_now_ms() < next)
			usleep(2000);
	}
	fclose(sl_acked);
	sl_write_stats();
	return 0;
}

/*
 * http_auth: POST /api/auth/login and the bearer-token check.
 *
 * Passwords are crypt(3) hashes ($y$ yescrypt or $2b$ bcrypt) verified with
 * libcrypt on a helper thread (http_crypt.c), so a login never stalls the
 * loop; an unknown email is checked against a dummy hash so the answer
 * takes as long as for a wrong password. Tokens are 32 random bytes (hex);
 * only their SHA-256 is stored (auth_tokens.token_hash), with an expiry.
 * Neither passwords nor tokens ever reach a log. Login attempts are limited
 * per client address by a token bucket in process memory (no DB), so a
 * password-guessing client is refused even while the DB is down.
 *
 * The token cache: a token the DB accepted is trusted by this process for
 * token_cache_ttl without asking again, so the API routes can skip the
 * token check in SQL. It holds SHA-256 digests only, in a fixed
 * direct-mapped table (HTTP_TC_SLOTS; a collision evicts, which only costs
 * a DB check). Bound, documented in holdfast.conf(5): a token deleted,
 * expired or whose user is disabled is refused at most token_cache_ttl
 * after the change. An entry's expiry is set only by a DB check, never
 * extended by a cached use; a DB answer "not valid" evicts it at once.
 */
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "cfg.h"
#include "db.h"
#include "http.h"
#include "http_crypt.h"
#include "json.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#define HTTP_RL_SLOTS	1024
#define HTTP_TC_SLOTS	4096	/* power of two */

struct http_tc_slot {
	unsigned char	md[SHA256_DIGEST_LENGTH];
	uint64_t	until_ms;	/* monotonic; 0: empty */
};

struct http_tokcache {
	struct http_tc_slot	slot[HTTP_TC_SLOTS];
};

struct http_rl_slot {
	char		addr[64];
	double		tokens;
	uint64_t	last_ms;
};

struct http_ratelimit {
	struct http_rl_slot	slot[HTTP_RL_SLOTS];
	double			rate_per_ms;
	double			burst;
};

struct http_login {
	struct http_call *call;
	char	*email;
	char	*password;
	char	 token[65];
	long long user_id;
	int	 found;
};

static void
http_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void
http_sha256_hex(const char *s, char out[65])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)s, strlen(s), md);
	http_hex(md, sizeof(md), out);
}

/* ---- token cache ---- */

static int
http_unhex(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex[2 * i], lo = hex[2 * i + 1];

		hi = hi <= '9' ? hi - '0' : hi - 'a' + 10;
		lo = lo <= '9' ? lo - '0' : lo - 'a' + 10;
		if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* The slot of a digest (uniformly random bytes: its first ones do). */
static struct http_tc_slot *
http_tc_slot(struct http_srv *srv, const unsigned char *md)
{
	uint32_t h = (uint32_t)md[0] | (uint32_t)md[1] << 8 | (uint32_t)md[2] << 16;

	return &srv->tc->slot[h & (HTTP_TC_SLOTS - 1)];
}

int
http_token_cached(struct http_call *call)
{
	struct http_srv		*srv = call->srv;
	unsigned char		 md[SHA256_DIGEST_LENGTH];
	struct http_tc_slot	*s;

	if (srv->tc == NULL || http_unhex(call->token_hash, md, sizeof(md)) == -1)
		return 0;
	s = http_tc_slot(srv, md);
	call->token_cached = s->until_ms > hf_now_mono_ms() &&
	    CRYPTO_memcmp(s->md, md, sizeof(md)) == 0;
	return call->token_cached;
}

void
http_token_checked(struct http_call *call, int valid)
{
	struct http_srv		*srv = call->srv;
	unsigned char		 md[SHA256_DIGEST_LENGTH];
	struct http_tc_slot	*s;

	if (srv->tc == NULL || call->token_cached || call->token_hash[0] == '\0' ||
	    http_unhex(call->token_hash, md, sizeof(md)) == -1)
		return;
	s = http_tc_slot(srv, md);
	if (valid) {
		memcpy(s->md, md, sizeof(md));
		s->until_ms = hf_now_mono_ms() + (uint64_t)srv->wcfg->token_cache_ttl_ms;
	} else if (CRYPTO_memcmp(s->md, md, sizeof(md)) == 0)
		s->until_ms = 0;
}

void
http_auth_init(struct http_srv *srv)
{
	char			 salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data	*cd;
	char			*h;

	srv->rl = xcalloc(1, sizeof(*srv->rl));
	srv->rl->burst = srv->wcfg->login_rate;
	srv->rl->rate_per_ms = srv->wcfg->login_rate / 60000.0;
	cd = xcalloc(1, sizeof(*cd));
	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL ||
	    (h = crypt_rn("holdfast-dummy-password", salt, cd, sizeof(*cd))) == NULL ||
	    h[0] == '*')
		fatalx("crypt_gensalt_rn($y$) failed: libcrypt without yescrypt?");
	srv->dummy_hash = xstrdup(h);
	free(cd);
	if (srv->wcfg->token_cache_ttl_ms > 0)
		srv->tc = xcalloc(1, sizeof(*srv->tc));
	http_crypt_init(srv->w->base);
}

void
http_auth_free(struct http_srv *srv)
{
	free(srv->rl);
	free(srv->dummy_hash);
	free(srv->tc);
}

/* ---- per-address rate limit ---- */

static uint32_t
http_fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/*
 * 1 when addr may try a login now. A slot held by another address is
 * taken over only once that address's bucket has refilled; until then the
 * two share it, which errs on the side of refusing.
 */
static int
http_rl_allow(struct http_ratelimit *rl, const char *addr)
{
	struct http_rl_slot	*s = &rl->slot[http_fnv1a(addr) % HTTP_RL_SLOTS];
	uint64_t		 now = hf_now_mono_ms();

	if (rl->burst <= 0)
		return 1;
	if (s->last_ms == 0 || strcmp(s->addr, addr) != 0) {
		if (s->last_ms != 0 && s->tokens +
		    (now - s->last_ms) * rl->rate_per_ms < rl->burst)
			goto take;
		hf_strlcpy(s->addr, addr, sizeof(s->addr));
		s->tokens = rl->burst;
		s->last_ms = now;
	}
take:
	s->tokens += (now - s->last_ms) * rl->rate_per_ms;
	if (s->tokens > rl->burst)
		s->tokens = rl->burst;
	s->last_ms = now;
	if (s->tokens < 1.0)
		return 0;
	s->tokens -= 1.0;
	return 1;
}

/* ---- login ---- */

static void
http_login_free(void *arg)
{
	struct http_login *l = arg;

	if (l->password != NULL) {
		OPENSSL_cleanse(l->password, strlen(l->password));
		free(l->password);
	}
	free(l->email);
	OPENSSL_cleanse(l->token, sizeof(l->token));
	free(l);
}

static void
http_login_done(const struct db_error *err, PGresult *const *res, int nres,
    void *arg)
{
	struct http_call	*call = http_db_done(arg);
	struct http_login	*l = call->ctx;
	struct jw		*w;

	if (err != NULL) {
		http_reply_db_error(call, err);
		return;
	}
	w = jw_new();
	jw_obj_open(w);
	jw_kstr(w, "token", l->token);
	jw_key(w, "user");
	jw_obj_open(w);
	jw_kint(w, "id", l->user_id);
	jw_kstr(w, "email", l->email);
	jw_obj_close(w);
	jw_obj_close(w);
	http_reply_json(call, 200, w);
	jw_free(w);
}

/* The password matched: mint a token, store its hash, answer once stored. */
static void
http_login_issue(struct http_call *call, struct http_login *l)
{
	static const char sql[] =
	    "INSERT INTO auth_tokens (token_hash, user_id, expires_at) "
	    "VALUES (decode($1, 'hex'), $2, now() + $3::bigint * interval '1 millisecond')";
	unsigned char	 raw[32];
	char		 hash[65], uid[24], ttl[24];
	const char	*params[3] = { hash, uid, ttl };

	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		http_reply_error(call, 500, "INTERNAL_ERROR", "No randomness for a token");
		return;
	}
	http_hex(raw, sizeof(raw), l->token);
	OPENSSL_cleanse(raw, sizeof(raw));
	http_sha256_hex(l->token, hash);
	snprintf(uid, sizeof(uid), "%lld", l->user_id);
	snprintf(ttl, sizeof(ttl), "%lld", (long long)call->srv->wcfg->token_ttl_ms);
	http_db_query(call, "http_login", sql, 3, params, http_login_done);
}

/* On the loop, after the helper thread compared the password. */
static void
http_login_checked(int ok, void *arg)
{
	struct http_login *l = arg;

	l->call->srv->inflight--;
	if (!ok || !l->found) {
		http_reply_error(l->call, 401, "INVALID_CREDENTIALS",
		    "Invalid email or password");
		return;
	}
	http_login_issue(l->call, l);
}

static void
http_login_user(const struct db_error *err, PGresult *const *res, int nres,
    void *arg)
{
	struct http_call	*call = http_db_done(arg);
	struct http_login	*l = call->ctx;
	PGresult		*r = res != NULL ? res[0] : NULL;
	const char		*hash = call->srv->dummy_hash;
	long long		 id;

	if (err != NULL) {
		http_reply_db_error(call, err);
		return;
	}
	if (r != NULL && PQntuples(r) == 1 &&
	    hf_parse_int(PQgetvalue(r, 0, 0), 1, INT64_MAX, &id) == 0) {
		l->found = 1;
		l->user_id = id;
		hash = PQgetvalue(r, 0, 1);
		free(l->email);
		l->email = xstrdup(PQgetvalue(r, 0, 2));
	}
	/* Unknown user: the same work on the dummy hash, so the same time.
	 * Counted in flight, so a stopping worker waits for the answer. */
	call->srv->inflight++;
	if (http_crypt_verify(l->password, hash, http_login_checked, l) == -1) {
		call->srv->inflight--;
		http_add_header(call, "Retry-After", "1");
		http_reply_error(call, 503, "SERVICE_UNAVAILABLE",
		    "Too many logins in progress");
	}
}

/* Reads {"email","password"}; replies 400 and returns NULL when invalid. */
static struct http_login *
http_login_parse(struct http_call *call)
{
	struct http_login	*l;
	const char		*email, *password;
	char			 err[128];
	yajl_val		 root;

	if ((root = json_parse(call->body, call->bodylen, err, sizeof(err))) == NULL) {
		http_reply_error(call, 400, "BAD_REQUEST", "Malformed JSON body");
		return NULL;
	}
	email = json_get_str(root, "email");
	password = json_get_str(root, "password");
	if (email == NULL || password == NULL || *email == '\0' || *password == '\0') {
		yajl_tree_free(root);
		http_reply_error(call, 400, "BAD_REQUEST",
		    "Body must be {\"email\":string,\"password\":string}");
		return NULL;
	}
	l = xcalloc(1, sizeof(*l));
	l->call = call;
	l->email = xstrdup(email);
	l->password = xstrdup(password);
	OPENSSL_cleanse(call->body, call->bodylen);
	yajl_tree_free(root);
	return l;
}

void
http_login(struct http_call *call)
{
	static const char sql[] =
	    "SELECT id, password_hash, email FROM users "
	    "WHERE email = $1 AND NOT disabled";
	struct http_login	*l;
	const char		*params[1];

	if (!http_rl_allow(call->srv->rl, call->addr)) {
		http_add_header(call, "Retry-After", "60");
		http_reply_error(call, 429, "TOO_MANY_REQUESTS",
		    "Too many login attempts; try again later");
		return;
	}
	if ((l = http_login_parse(call)) == NULL)
		return;
	call->ctx = l;
	call->ctx_free = http_login_free;
	params[0] = l->email;
	http_db_query(call, "http_login", sql, 1, params, http_login_user);
}

/* ---- bearer tokens ---- */

int
http_auth_bearer(struct http_call *call)
{
	const char *h = http_header(call, "Authorization");
	size_t n;

	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		http_add_header(call, "WWW-Authenticate", "Bearer");
		http_reply_error(call, 401, "UNAUTHORIZED", "Missing bearer token");
		return -1;
	}
	h += 7;
	n = strlen(h);
	if (n < 16 || n > 256 || strspn(h, "0123456789abcdefABCDEF"
	    "ghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ-_.~+/=") != n) {
		http_reply_error(call, 401, "UNAUTHORIZED", "Malformed bearer token");
		return -1;
	}
	http_sha256_hex(h, call->token_hash);
	return 0;
}

/*
 * sup_web_guard: the Host allow-list and the failed-token throttle of the
 * status page (see sup_web_guard.h).
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sup_web_guard.h"
#include "util.h"

#define WEB_HOST_MAX	253
#define WEB_ADDR_MAX	64	/* an IPv6 address as text, and some */

/* ---- Host ---------------------------------------------------------------- */

static const char web_host_chars[] =
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_";

/* name (len bytes) matches the list entry e (elen bytes). */
static int
web_host_match(const char *name, size_t len, const char *e, size_t elen)
{
	if (e[0] != '.')
		return len == elen && strncasecmp(name, e, len) == 0;
	/* ".example.com": example.com and any name under it */
	if (len == elen - 1 && strncasecmp(name, e + 1, len) == 0)
		return 1;
	return len > elen && strncasecmp(name + len - elen, e, elen) == 0;
}

static int
web_host_listed(const char *name, size_t len, const char *list)
{
	const char	*p = list;
	size_t		 n;

	while (p != NULL && *p != '\0') {
		p += strspn(p, ", \t");
		n = strcspn(p, ", \t");
		if (n > 0 && web_host_match(name, len, p, n))
			return 1;
		p += n;
	}
	return 0;
}

int
web_host_allowed(const char *host, const char *allowed)
{
	char		 name[WEB_HOST_MAX + 1], a[sizeof(struct in6_addr)];
	const char	*colon;
	size_t		 len;

	if (host == NULL)
		return 1;
	if (host[0] == '[') {	/* [v6]:port */
		len = strcspn(host + 1, "]");
		if (host[1 + len] != ']' || len >= sizeof(name))
			return 0;
		memcpy(name, host + 1, len);
		name[len] = '\0';
		return inet_pton(AF_INET6, name, a) == 1;
	}
	colon = strchr(host, ':');
	len = colon != NULL ? (size_t)(colon - host) : strlen(host);
	if (len == 0 || len > WEB_HOST_MAX || strspn(host, web_host_chars) != len)
		return 0;
	memcpy(name, host, len);
	name[len] = '\0';
	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';	/* "localhost." is "localhost" */
	if (inet_pton(AF_INET, name, a) == 1 || strcasecmp(name, "localhost") == 0)
		return 1;
	if (len > 10 && strcasecmp(name + len - 10, ".localhost") == 0)
		return 1;
	return allowed != NULL && web_host_listed(name, len, allowed);
}

/* ---- failed tokens --------------------------------------------------------- */

static struct web_fail {
	char		addr[WEB_ADDR_MAX];
	uint64_t	first_ms;	/* first failure of the window; 0: free */
	int		fails;
} web_fails[WEB_AUTH_SLOTS];

/* addr's entry, or NULL (add: a free or the oldest entry, made addr's). */
static struct web_fail *
web_fail_slot(const char *addr, uint64_t now_ms, int add)
{
	struct web_fail	*f, *oldest = &web_fails[0];

	for (f = web_fails; f < web_fails + WEB_AUTH_SLOTS; f++) {
		if (f->first_ms != 0 && now_ms - f->first_ms >= WEB_AUTH_WINDOW_MS)
			f->first_ms = 0;	/* its window is over */
		if (f->first_ms != 0 && strcmp(f->addr, addr) == 0)
			return f;
		if (f->first_ms < oldest->first_ms)
			oldest = f;
	}
	if (!add)
		return NULL;
	hf_strlcpy(oldest->addr, addr, sizeof(oldest->addr));
	oldest->first_ms = now_ms != 0 ? now_ms : 1;
	oldest->fails = 0;
	return oldest;
}

int
web_auth_blocked(const char *addr, uint64_t now_ms)
{
	struct web_fail	*f = web_fail_slot(addr, now_ms, 0);
	uint64_t	 left;

	if (f == NULL || f->fails < WEB_AUTH_FAILS)
		return 0;
	left = f->first_ms + WEB_AUTH_WINDOW_MS - now_ms;
	return (int)((left + 999) / 1000);
}

int
web_auth_failed(const char *addr, uint64_t now_ms)
{
	struct web_fail *f = web_fail_slot(addr, now_ms, 1);

	return ++f->fails;
}

void
web_auth_passed(const char *addr)
{
	for (struct web_fail *f = web_fails; f < web_fails + WEB_AUTH_SLOTS; f++)
		if (f->first_ms != 0 && strcmp(f->addr, addr) == 0)
			f->first_ms = 0;
}

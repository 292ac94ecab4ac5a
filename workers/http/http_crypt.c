/*
 * http_crypt: password verification off the event loop.
 *
 * crypt(3) with yescrypt or bcrypt costs tens to hundreds of milliseconds
 * by design; run on the loop, one login would stall every other request of
 * the worker (/healthz included). One helper thread takes jobs from a
 * bounded queue and hands each result back through a pipe that the loop
 * watches, so callbacks run on the loop, as every other callback does.
 * The thread blocks all signals (signals belong to libevent on the main
 * thread) and touches nothing but its job.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <crypt.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <event2/event.h>

#include "http_crypt.h"
#include "log.h"
#include "util.h"

#define HTTP_CRYPT_QUEUE_MAX	256

struct http_crypt_job {
	char			*password;
	char			*hash;
	int			 ok;
	void			(*cb)(int ok, void *arg);
	void			*arg;
	struct http_crypt_job	*next;
};

static pthread_mutex_t		 hc_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t		 hc_cv = PTHREAD_COND_INITIALIZER;
static struct http_crypt_job	*hc_head, *hc_tail;
static int			 hc_queued;	/* queued or running; loop side */
static int			 hc_pipe[2] = { -1, -1 };
static struct event		*hc_ev;
static pthread_t		 hc_thread;
static int			 hc_running;	/* hc_thread to be joined */
static int			 hc_quit;	/* under hc_mu: the thread returns */

int
http_crypt_check(const char *password, const char *hash)
{
	struct crypt_data	*cd = xcalloc(1, sizeof(*cd));
	const char		*h;
	size_t			 n = strlen(hash);
	int			 ok;

	h = crypt_rn(password, hash, cd, sizeof(*cd));
	ok = h != NULL && h[0] != '*' && strlen(h) == n &&
	    CRYPTO_memcmp(h, hash, n) == 0;
	OPENSSL_cleanse(cd, sizeof(*cd));
	free(cd);
	return ok;
}

static void *
http_crypt_thread(void *unused)
{
	struct http_crypt_job *j;

	(void)unused;
	for (;;) {
		pthread_mutex_lock(&hc_mu);
		while (hc_head == NULL && !hc_quit)
			pthread_cond_wait(&hc_cv, &hc_mu);
		if (hc_quit) {
			pthread_mutex_unlock(&hc_mu);
			return NULL;
		}
		j = hc_head;
		if ((hc_head = j->next) == NULL)
			hc_tail = NULL;
		pthread_mutex_unlock(&hc_mu);
		j->ok = http_crypt_check(j->password, j->hash);
		/* A pointer is far below PIPE_BUF: the write is atomic. */
		while (write(hc_pipe[1], &j, sizeof(j)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

static void
http_crypt_job_free(struct http_crypt_job *j)
{
	OPENSSL_cleanse(j->password, strlen(j->password));
	free(j->password);
	free(j->hash);
	free(j);
}

/* On the loop: results back from the thread. */
static void
http_crypt_done(evutil_socket_t fd, short what, void *unused)
{
	struct http_crypt_job	*j;
	ssize_t			 n;

	(void)what;
	(void)unused;
	while ((n = read(fd, &j, sizeof(j))) == (ssize_t)sizeof(j)) {
		hc_queued--;
		j->cb(j->ok, j->arg);
		http_crypt_job_free(j);
	}
}

void
http_crypt_init(struct event_base *base)
{
	sigset_t	all, old;
	int		rc;

	if (pipe2(hc_pipe, O_CLOEXEC) == -1)
		fatal("pipe2 (crypt results)");
	hf_fd_set_nonblock(hc_pipe[0]);
	hc_ev = event_new(base, hc_pipe[0], EV_READ | EV_PERSIST, http_crypt_done, NULL);
	event_add(hc_ev, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&hc_thread, NULL, http_crypt_thread, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0)
		fatalx("pthread_create (crypt): %s", strerror(rc));
	hc_running = 1;
}

void
http_crypt_stop(void)
{
	/* The thread is joined, not left running into exit(): a clean
	 * shutdown frees everything (tests/system/valgrind.sh). A stopping worker
	 * has waited for its logins (http_drain), so the queue is empty but
	 * past that deadline, and a job in crypt_rn delays this by one check. */
	if (hc_running) {
		pthread_mutex_lock(&hc_mu);
		hc_quit = 1;
		pthread_cond_signal(&hc_cv);
		pthread_mutex_unlock(&hc_mu);
		pthread_join(hc_thread, NULL);
		hc_running = 0;
	}
	if (hc_ev != NULL)
		event_free(hc_ev);
	hc_ev = NULL;
	for (int i = 0; i < 2; i++)
		if (hc_pipe[i] != -1) {
			close(hc_pipe[i]);
			hc_pipe[i] = -1;
		}
}

int
http_crypt_verify(const char *password, const char *hash,
    void (*cb)(int ok, void *arg), void *arg)
{
	struct http_crypt_job *j;

	if (hc_queued >= HTTP_CRYPT_QUEUE_MAX)
		return -1;
	j = xcalloc(1, sizeof(*j));
	j->password = xstrdup(password);
	j->hash = xstrdup(hash);
	j->cb = cb;
	j->arg = arg;
	hc_queued++;
	pthread_mutex_lock(&hc_mu);
	if (hc_tail != NULL)
		hc_tail->next = j;
	else
		hc_head = j;
	hc_tail = j;
	pthread_cond_signal(&hc_cv);
	pthread_mutex_unlock(&hc_mu);
	return 0;
}

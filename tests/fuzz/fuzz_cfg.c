/*
 * fuzz_cfg: the config loader, cfg_load(), on arbitrary file contents.
 *
 * The input is written to holdfast.conf in a fresh private directory (the
 * loader resolves the path and relative paths against its directory, so it
 * needs a real file), loaded, queried the way holdfastd and the workers
 * query it, and freed. A refusal must come with a "file:line: reason"
 * message; anything else is a bug. The same bytes also go through the
 * helpers that parse single values (command lines, signal names).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "fuzz.h"
#include "log.h"
#include "util.h"

static void
fuzz_cfg_query(const struct cfg *cfg)
{
	for (int i = 0; i < cfg->nworkers; i++) {
		const struct cfg_worker *w = &cfg->workers[i];
		char inst[128];

		if (cfg_worker_find(cfg, w->name) != w)
			abort();
		if (!cfg_worker_equal(w, w))
			abort();
		if (i > 0)
			(void)cfg_worker_equal(w, &cfg->workers[i - 1]);
		snprintf(inst, sizeof(inst), "%s:%d", w->name, w->numprocs - 1);
		(void)cfg_worker_for_instance(cfg, inst, "http");
		(void)cfg_signal_name(w->stopsignal);
	}
}

/* The value parsers on the raw bytes as one string. */
static void
fuzz_cfg_values(const uint8_t *data, size_t size)
{
	char	*s, **argv, err[CFG_ERRLEN];

	s = xmalloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	if (cfg_split_command(s, &argv, err, sizeof(err)) >= 0)
		cfg_free_argv(argv);
	else if (err[0] == '\0')
		abort();
	(void)cfg_signal_parse(s);
	free(s);
}

static int
fuzz_cfg_write(const char *path, const uint8_t *data, size_t size)
{
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1)
		return -1;
	while (size > 0) {
		ssize_t n = write(fd, data, size);

		if (n <= 0) {
			close(fd);
			return -1;
		}
		data += n;
		size -= (size_t)n;
	}
	return close(fd);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		 dir[64], path[96];
	char		 err[CFG_ERRLEN];
	struct cfg	*cfg;

	log_set_level(LOG_LVL_ERROR);
	/* tmpfs when there is one: a disk's mkdir/rmdir cost more than the parse */
	snprintf(dir, sizeof(dir), "%s/holdfast-fuzz-cfg.XXXXXX",
	    access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/holdfast.conf", dir);
	if (fuzz_cfg_write(path, data, size) == -1) {
		perror(path);
		abort();
	}
	err[0] = '\0';
	if ((cfg = cfg_load(path, err, sizeof(err))) != NULL) {
		fuzz_cfg_query(cfg);
		cfg_free(cfg);
	} else if (strncmp(err, path, strlen(path)) != 0) {
		/* Every refusal names the file (and the line). */
		fprintf(stderr, "fuzz_cfg: refusal without file name: %s\n", err);
		abort();
	}
	unlink(path);
	rmdir(dir);
	fuzz_cfg_values(data, size);
	return 0;
}

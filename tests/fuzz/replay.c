/*
 * replay: runs one fuzz target over its committed corpus, without clang.
 *
 * Guards the promise that bad input (a broken config, a garbage frame on
 * the channel or control socket, a hostile SIP datagram or webhook body)
 * is refused, never a crash: every input libFuzzer ever found interesting
 * or crashing is kept in tests/fuzz/corpus/<target>/ and replayed here by
 * `make check` (with ASan/UBSan under --enable-sanitizers).
 *
 *   replay_<target>                 the corpus under $HOLDFAST_SRCDIR
 *   replay_<target> FILE|DIR...     those inputs (reproducing a crash)
 *
 * Each input runs in a forked child so one crash names its file and the
 * others still run. Exit 0 when all passed, 1 otherwise (99 when there is
 * nothing to replay, an error for automake's test driver).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fuzz.h"

#ifndef FUZZ_TARGET
#error "FUZZ_TARGET must name the target (its corpus directory)"
#endif

static int	replay_ran, replay_failed;

/* Reads the whole file into a malloc'd buffer (no NUL added: the targets
 * must never rely on one). NULL on error, after printing why. */
static uint8_t *
replay_read(const char *path, size_t *lenp)
{
	struct stat	 st;
	uint8_t		*buf;
	ssize_t		 n;
	size_t		 off = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		fprintf(stderr, "replay: open(%s): %s\n", path, strerror(errno));
		if (fd != -1)
			close(fd);
		return NULL;
	}
	/* One spare byte so an empty file still gets a valid pointer. */
	buf = malloc((size_t)st.st_size + 1);
	while (buf != NULL && off < (size_t)st.st_size &&
	    (n = read(fd, buf + off, (size_t)st.st_size - off)) > 0)
		off += (size_t)n;
	close(fd);
	if (buf == NULL) {
		fprintf(stderr, "replay: malloc(%s): out of memory\n", path);
		return NULL;
	}
	*lenp = off;
	return buf;
}

/* Runs one input in a child; reports how it ended. */
static void
replay_file(const char *path)
{
	uint8_t	*buf;
	size_t	 len;
	pid_t	 pid;
	int	 status;

	if ((buf = replay_read(path, &len)) == NULL) {
		replay_failed++;
		return;
	}
	fflush(NULL);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "replay: fork: %s\n", strerror(errno));
		exit(1);
	}
	if (pid == 0) {
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		/* exit(), not _exit(): under --enable-sanitizers LeakSanitizer
		 * then checks this input's run for leaks. */
		exit(0);
	}
	free(buf);
	replay_ran++;
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	replay_failed++;
	if (WIFSIGNALED(status))
		fprintf(stderr, "replay: FAIL %s: killed by signal %d\n", path,
		    WTERMSIG(status));
	else
		fprintf(stderr, "replay: FAIL %s: exit %d\n", path, WEXITSTATUS(status));
}

static int
replay_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A directory's regular files, in name order so runs are comparable. */
static void
replay_dir(const char *dir)
{
	struct dirent	 *de;
	char		**names = NULL, path[4096];
	size_t		  n = 0, i;
	DIR		 *d;

	if ((d = opendir(dir)) == NULL) {
		fprintf(stderr, "replay: opendir(%s): %s\n", dir, strerror(errno));
		replay_failed++;
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((names = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (names[n] = strdup(de->d_name)) == NULL) {
			fprintf(stderr, "replay: out of memory\n");
			exit(1);
		}
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof(*names), replay_cmp);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		replay_file(path);
		free(names[i]);
	}
	free(names);
}

static void
replay_path(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		replay_dir(path);
	else
		replay_file(path);
}

int
main(int argc, char **argv)
{
	const char	*srcdir;
	char		 dir[4096];

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay_path(argv[i]);
	} else {
		if ((srcdir = getenv("HOLDFAST_SRCDIR")) == NULL)
			srcdir = ".";
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", srcdir,
		    FUZZ_TARGET);
		replay_dir(dir);
	}
	printf("replay %s: %d inputs, %d failed\n", FUZZ_TARGET, replay_ran,
	    replay_failed);
	if (replay_ran == 0 && replay_failed == 0)
		return 99;
	return replay_failed > 0 ? 1 : 0;
}

/*
 * pgt: a real PostgreSQL 15 cluster per test (see pgt.h).
 *
 * initdb runs once into a template directory shared by every test program
 * of the run (flock-serialised, reused while the PostgreSQL version is the
 * same) and is copied per cluster, which costs ~0.1 s instead of ~1.5 s
 * (1 MB WAL segments keep the copy small).
 * As root the server runs as `postgres` (runuser) in directories it owns.
 *
 * Invariant: no cluster outlives the test process. Each cluster gets a
 * guard process holding the read end of a pipe whose write end only the
 * test process keeps (CLOEXEC): however the test dies (exit, abort,
 * Check's SIGKILL on timeout), the guard sees EOF, SIGKILLs the postmaster
 * and its children, and removes the directory.
 *
 * Dynamic shared memory is mmap'ed files in the data directory, not
 * /dev/shm segments: a killed server's segments go with its directory.
 *
 * pg_hba: trust for everyone on 127.0.0.1 and the socket, except the role
 * "pgt_pw" which must use a password (scram-sha-256), for wrong-password
 * tests (create it with CREATE ROLE pgt_pw LOGIN PASSWORD '...').
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include "pgt.h"

#define PGT_MAXSTR	16

struct pgt {
	char	*dir;		/* owned by postgres: data/, sock/, log */
	char	*data;
	char	*sock;
	char	*logfile;
	int	 port;
	int	 guard_fd;	/* write end; closing it tears the cluster down */
	pid_t	 guard_pid;
	char	*strs[PGT_MAXSTR];	/* conninfo strings handed out */
	int	 nstrs;
};

static void pgt_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
pgt_die(const char *fmt, ...)
{
	char	 buf[1024];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "pgt: %s\n", buf);
	ck_abort_msg("pgt: %s", buf);
	abort();
}

static char *
pgt_strf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		abort();
	va_end(ap);
	return s;
}

const char *
pgt_bindir(void)
{
	const char *e = getenv("PG_BINDIR");

	return e != NULL && *e != '\0' ? e : PG_BINDIR_DEFAULT;
}

static int
pgt_is_root(void)
{
	return geteuid() == 0;
}

/*
 * Runs argv (argv[0] a path), as postgres when asuser and we are root.
 * Output (stdout+stderr) goes to *out when out != NULL, else to /dev/null.
 * Returns the exit status, or -1.
 */
static int
pgt_run(char *const argv[], int asuser, char **out)
{
	int	 p[2], status;
	pid_t	 pid;
	size_t	 len = 0, cap = 0;
	char	*buf = NULL, tmp[4096];
	ssize_t	 n;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		char	*av[64];
		int	 i = 0, j;

		dup2(p[1], 1);
		dup2(p[1], 2);
		if (asuser && pgt_is_root()) {
			av[i++] = "/usr/sbin/runuser";
			av[i++] = "-u";
			av[i++] = "postgres";
			av[i++] = "--";
		}
		for (j = 0; argv[j] != NULL && i < 63; j++)
			av[i++] = argv[j];
		av[i] = NULL;
		execv(av[0], av);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], tmp, sizeof(tmp))) > 0 ||
	    (n == -1 && errno == EINTR)) {
		if (n <= 0)
			continue;
		if (len + n + 1 > cap) {
			cap = (len + n + 1) * 2;
			if ((buf = realloc(buf, cap)) == NULL)
				abort();
		}
		memcpy(buf + len, tmp, n);
		len += n;
	}
	close(p[0]);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (buf == NULL)
		buf = strdup("");
	else
		buf[len] = '\0';
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	if (out != NULL)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void
pgt_chown_pg(const char *path)
{
	struct passwd *pw;

	if (!pgt_is_root())
		return;
	if ((pw = getpwnam("postgres")) == NULL)
		pgt_die("getpwnam(postgres): no such user");
	if (chown(path, pw->pw_uid, pw->pw_gid) == -1)
		pgt_die("chown(%s): %s", path, strerror(errno));
}

/*
 * Where clusters live: $PGT_TMPDIR; else /dev/shm when it is a roomy tmpfs
 * (copying the template and running the server in memory takes a third
 * of the time on a busy disk; a container's 64 MB default is not roomy);
 * else $TMPDIR or /tmp.
 */
static const char *
pgt_tmpbase(void)
{
	const char	*t = getenv("PGT_TMPDIR");
	struct statvfs	 sv;

	if (t != NULL && *t != '\0')
		return t;
	if (statvfs("/dev/shm", &sv) == 0 && access("/dev/shm", W_OK) == 0 &&
	    (unsigned long long)sv.f_bavail * sv.f_frsize >= (1ULL << 30))
		return "/dev/shm";
	t = getenv("TMPDIR");
	return t != NULL && *t != '\0' ? t : "/tmp";
}

/* The PostgreSQL version string, to key the template cache. */
static char *
pgt_version(void)
{
	char	*bin = pgt_strf("%s/postgres", pgt_bindir()), *out = NULL;
	char	*argv[] = { bin, "--version", NULL };
	size_t	 i;

	if (pgt_run(argv, 0, &out) != 0)
		pgt_die("%s --version failed: %s", bin, out ? out : "");
	free(bin);
	for (i = 0; out[i]; i++)
		if (out[i] == ' ' || out[i] == '(' || out[i] == ')' || out[i] == '/')
			out[i] = '_';
	return out;
}

/*
 * The initdb'd template, created once (under an flock so parallel test
 * programs share one initdb) and reused by later runs of the same version.
 */
static char *
pgt_template(void)
{
	static char	*tmpl;
	char		*ver, *lock, *ready, *tmp, *out = NULL;
	int		 lfd;

	if (tmpl != NULL)
		return tmpl;
	ver = pgt_version();
	tmpl = pgt_strf("%s/holdfast-pgt-%d-%s-2", pgt_tmpbase(), (int)geteuid(), ver);
	lock = pgt_strf("%s.lock", tmpl);
	ready = pgt_strf("%s/.pgt-ready", tmpl);
	if ((lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		pgt_die("open(%s): %s", lock, strerror(errno));
	while (flock(lfd, LOCK_EX) == -1 && errno == EINTR)
		;
	if (access(ready, F_OK) != 0) {
		char *initdb = pgt_strf("%s/initdb", pgt_bindir());
		char *rm[] = { "/bin/rm", "-rf", tmpl, NULL };
		char *argv[] = { initdb, "-D", NULL, "-U", "postgres",
		    "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C",
		    "--wal-segsize=1", NULL };
		FILE *f;

		tmp = pgt_strf("%s.tmp", tmpl);
		pgt_run(rm, 0, NULL);
		rm[2] = tmp;
		pgt_run(rm, 0, NULL);
		if (mkdir(tmp, 0700) == -1)
			pgt_die("mkdir(%s): %s", tmp, strerror(errno));
		pgt_chown_pg(tmp);
		argv[2] = tmp;
		if (pgt_run(argv, 1, &out) != 0)
			pgt_die("initdb -D %s failed: %s", tmp, out);
		free(out);
		if (rename(tmp, tmpl) == -1)
			pgt_die("rename(%s): %s", tmp, strerror(errno));
		if ((f = fopen(ready, "w")) == NULL)
			pgt_die("fopen(%s): %s", ready, strerror(errno));
		fclose(f);
		free(initdb);
		free(tmp);
	}
	flock(lfd, LOCK_UN);
	close(lfd);
	free(lock);
	free(ready);
	free(ver);
	return tmpl;
}

static int
pgt_free_port(void)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 fd, port;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		pgt_die("socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		pgt_die("bind(127.0.0.1:0): %s", strerror(errno));
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* The postmaster's pid from postmaster.pid, or -1. */
static pid_t
pgt_pm_pid(const char *data)
{
	char	 path[4096];
	FILE	*f;
	long	 pid = -1;

	snprintf(path, sizeof(path), "%s/postmaster.pid", data);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	if (fscanf(f, "%ld", &pid) != 1)
		pid = -1;
	fclose(f);
	return (pid_t)pid;
}

/* Sends sig to every process whose parent is ppid; returns how many. */
static int
pgt_signal_children(pid_t ppid, int sig)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char	 path[300], buf[512], *p;
		long	 pp;
		FILE	*f;

		if (de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		p = fgets(buf, sizeof(buf), f);
		fclose(f);
		if (p == NULL || (p = strrchr(buf, ')')) == NULL)
			continue;
		if (sscanf(p + 2, "%*c %ld", &pp) == 1 && pp == (long)ppid) {
			kill((pid_t)atol(de->d_name), sig);
			n++;
		}
	}
	closedir(d);
	return n;
}

/* Kills the postmaster and its children at once (no clean shutdown). */
static void
pgt_hard_kill(const char *data)
{
	pid_t	 pm = pgt_pm_pid(data);
	int	 i;

	if (pm <= 0 || kill(pm, 0) == -1)
		return;
	pgt_signal_children(pm, SIGKILL);
	kill(pm, SIGKILL);
	kill(pm, SIGCONT);
	for (i = 0; i < 200 && kill(pm, 0) == 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		waitpid(pm, NULL, WNOHANG);
		nanosleep(&ts, NULL);
	}
}

/* The guard: waits for EOF on fd, then kills the cluster and removes dir. */
static void
pgt_guard_main(int fd, const char *dir, const char *data)
{
	char	 c;
	char	*rm[] = { "/bin/rm", "-rf", (char *)dir, NULL };
	sigset_t ss;

	sigemptyset(&ss);
	sigprocmask(SIG_SETMASK, &ss, NULL);
	signal(SIGINT, SIG_IGN);	/* ^C reaches the test; we follow by EOF */
	signal(SIGTERM, SIG_IGN);
	while (read(fd, &c, 1) == -1 && errno == EINTR)
		;
	pgt_hard_kill(data);
	execv(rm[0], rm);
	_exit(1);
}

static void
pgt_start_guard(struct pgt *pg)
{
	int	 p[2];
	pid_t	 pid;

	if (pipe2(p, O_CLOEXEC) == -1)
		pgt_die("pipe2: %s", strerror(errno));
	if ((pid = fork()) == -1)
		pgt_die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd;

		close(p[1]);
		/* Close every other inherited fd, so the guard holds no
		 * other guard's write end open. */
		for (fd = 3; fd < 1024; fd++)
			if (fd != p[0])
				close(fd);
		setsid();
		pgt_guard_main(p[0], pg->dir, pg->data);
	}
	close(p[0]);
	pg->guard_fd = p[1];
	pg->guard_pid = pid;
}

static void
pgt_append(const char *path, const char *text)
{
	FILE *f;

	if ((f = fopen(path, "ae")) == NULL)
		pgt_die("fopen(%s): %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
}

static void
pgt_write_conf(struct pgt *pg, const char *opts)
{
	char	*conf, *hba, *text;
	FILE	*f;

	conf = pgt_strf("%s/postgresql.conf", pg->data);
	text = pgt_strf("\n# pgt\nport = %d\nlisten_addresses = '127.0.0.1'\n"
	    "unix_socket_directories = '%s'\nfsync = off\n"
	    "synchronous_commit = off\nfull_page_writes = off\n"
	    "shared_buffers = 16MB\nmax_connections = 40\n"
	    "dynamic_shared_memory_type = mmap\n"
	    "logging_collector = off\nlog_line_prefix = '%%m [%%p] '\n"
	    "%s\n", pg->port, pg->sock, opts != NULL ? opts : "");
	pgt_append(conf, text);
	free(text);
	hba = pgt_strf("%s/pg_hba.conf", pg->data);
	if ((f = fopen(hba, "we")) == NULL)
		pgt_die("fopen(%s): %s", hba, strerror(errno));
	fputs("local all all trust\n"
	    "host all pgt_pw 127.0.0.1/32 scram-sha-256\n"
	    "host all all 127.0.0.1/32 trust\n"
	    "local replication all trust\n"
	    "host replication all 127.0.0.1/32 trust\n", f);
	fclose(f);
	free(conf);
	free(hba);
}

static int
pgt_ctl(struct pgt *pg, const char *what, const char *mode)
{
	char	*ctl = pgt_strf("%s/pg_ctl", pgt_bindir()), *out = NULL;
	char	*argv[] = { ctl, "-D", pg->data, "-l", pg->logfile, "-w",
	    "-t", "30", (char *)what, "-m", (char *)mode, NULL };
	int	 rc;

	if (mode == NULL)
		argv[9] = NULL;
	rc = pgt_run(argv, 1, &out);
	if (rc != 0)
		fprintf(stderr, "pgt: pg_ctl %s: %s\n", what, out);
	free(out);
	free(ctl);
	return rc == 0 ? 0 : -1;
}

/* Copies the template into a new cluster directory and configures it. */
static struct pgt *
pgt_prepare(const char *opts)
{
	struct pgt	*pg;
	char		*tmpl = pgt_template();
	char		*cp[] = { "/bin/cp", "-a", tmpl, NULL, NULL };
	char		*out = NULL;

	if ((pg = calloc(1, sizeof(*pg))) == NULL)
		abort();
	pg->dir = pgt_strf("%s/holdfast-pgt-XXXXXX", pgt_tmpbase());
	if (mkdtemp(pg->dir) == NULL)
		pgt_die("mkdtemp(%s): %s", pg->dir, strerror(errno));
	chmod(pg->dir, 0755);
	pgt_chown_pg(pg->dir);
	pg->data = pgt_strf("%s/data", pg->dir);
	pg->sock = pgt_strf("%s/sock", pg->dir);
	pg->logfile = pgt_strf("%s/postgres.log", pg->dir);
	pgt_start_guard(pg);
	cp[3] = pg->data;
	if (pgt_run(cp, 0, &out) != 0)
		pgt_die("cp -a %s %s: %s", tmpl, pg->data, out);
	free(out);
	{
		char *ready = pgt_strf("%s/.pgt-ready", pg->data);

		unlink(ready);
		free(ready);
	}
	chmod(pg->data, 0700);
	if (mkdir(pg->sock, 0700) == -1)
		pgt_die("mkdir(%s): %s", pg->sock, strerror(errno));
	pgt_chown_pg(pg->sock);
	pg->port = pgt_free_port();
	pgt_write_conf(pg, opts);
	return pg;
}

struct pgt *
pgt_start(const char *opts)
{
	struct pgt	*pg = pgt_prepare(opts);
	int		 tries;

	/* A free port can be taken between probing and binding: retry. */
	for (tries = 0; pgt_ctl(pg, "start", NULL) != 0; tries++) {
		char *log = NULL, *argv[] = { "/usr/bin/tail", "-n", "20",
		    pg->logfile, NULL };

		if (tries == 2) {
			pgt_run(argv, 0, &log);
			pgt_die("cannot start PostgreSQL in %s: %s", pg->data,
			    log ? log : "");
		}
		pg->port = pgt_free_port();
		pgt_write_conf(pg, NULL);
	}
	return pg;
}

void
pgt_destroy(struct pgt *pg)
{
	int i;

	if (pg == NULL)
		return;
	if (pgt_pm_pid(pg->data) > 0)
		pgt_ctl(pg, "stop", "immediate");
	close(pg->guard_fd);	/* the guard kills leftovers and removes dir */
	while (waitpid(pg->guard_pid, NULL, 0) == -1 && errno == EINTR)
		;
	for (i = 0; i < pg->nstrs; i++)
		free(pg->strs[i]);
	free(pg->dir);
	free(pg->data);
	free(pg->sock);
	free(pg->logfile);
	free(pg);
}

int
pgt_port(const struct pgt *pg)
{
	return pg->port;
}

const char *
pgt_datadir(const struct pgt *pg)
{
	return pg->data;
}

const char *
pgt_logfile(const struct pgt *pg)
{
	return pg->logfile;
}

pid_t
pgt_postmaster_pid(const struct pgt *pg)
{
	return pgt_pm_pid(pg->data);
}

static const char *
pgt_keep(struct pgt *pg, char *s)
{
	if (pg->nstrs == PGT_MAXSTR) {
		free(pg->strs[0]);
		memmove(pg->strs, pg->strs + 1, sizeof(char *) * (PGT_MAXSTR - 1));
		pg->nstrs--;
	}
	pg->strs[pg->nstrs++] = s;
	return s;
}

const char *
pgt_conninfo(struct pgt *pg, const char *dbname)
{
	return pgt_keep(pg, pgt_strf("host=127.0.0.1 port=%d dbname=%s user=postgres",
	    pg->port, dbname));
}

int
pgt_psql(struct pgt *pg, const char *dbname, const char *sql, char **out)
{
	char	*psql = pgt_strf("%s/psql", pgt_bindir());
	char	 port[16];
	char	*argv[] = { psql, "-XAtq", "-v", "ON_ERROR_STOP=1", "-h",
	    "127.0.0.1", "-p", port, "-U", "postgres", "-d", (char *)dbname,
	    "-c", (char *)sql, NULL };
	int	 rc;

	snprintf(port, sizeof(port), "%d", pg->port);
	rc = pgt_run(argv, 0, out);
	free(psql);
	return rc;
}

long long
pgt_scalar(struct pgt *pg, const char *dbname, const char *sql)
{
	char		*out = NULL, *end;
	long long	 v;

	if (pgt_psql(pg, dbname, sql, &out) != 0) {
		free(out);
		return -1;
	}
	v = strtoll(out, &end, 10);
	if (end == out)
		v = -1;
	free(out);
	return v;
}

static int
pgt_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * The migration files etc/schema/NNNN_*.sql in order, from
 * $HOLDFAST_SRCDIR (make check) or the current directory.
 */
static int
pgt_schema_files(char ***files)
{
	const char	*src = getenv("HOLDFAST_SRCDIR");
	char		*dir = pgt_strf("%s/etc/schema", src ? src : ".");
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	*files = NULL;
	if ((d = opendir(dir)) == NULL)
		pgt_die("opendir(%s): %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (l < 9 || strcmp(de->d_name + l - 4, ".sql") != 0 ||
		    de->d_name[0] < '0' || de->d_name[0] > '9')
			continue;
		if ((*files = realloc(*files, sizeof(char *) * (n + 1))) == NULL)
			abort();
		(*files)[n++] = pgt_strf("%s/%s", dir, de->d_name);
	}
	closedir(d);
	free(dir);
	qsort(*files, n, sizeof(char *), pgt_cmp);
	return n;
}

/*
 * Applies the schema exactly as the DB layer's migrator records it (each
 * file plus its row in schema_migrations, in one transaction), so a worker
 * started on this database finds nothing left to migrate.
 */
static void
pgt_apply_schema(struct pgt *pg, const char *name)
{
	char	**files, *script, *path, *out = NULL;
	int	  n, i;
	FILE	 *f;

	n = pgt_schema_files(&files);
	path = pgt_strf("%s/schema-%s.sql", pg->dir, name);
	if ((f = fopen(path, "we")) == NULL)
		pgt_die("fopen(%s): %s", path, strerror(errno));
	fputs("BEGIN;\nCREATE TABLE IF NOT EXISTS schema_migrations ("
	    "version integer PRIMARY KEY, "
	    "applied_at timestamptz NOT NULL DEFAULT now());\n", f);
	for (i = 0; i < n; i++) {
		const char *base = strrchr(files[i], '/') + 1;

		fprintf(f, "\\i '%s'\nINSERT INTO schema_migrations (version) "
		    "VALUES (%d);\n", files[i], atoi(base));
		free(files[i]);
	}
	fputs("COMMIT;\n", f);
	fclose(f);
	free(files);
	script = pgt_strf("\\i '%s'", path);
	if (pgt_psql(pg, name, script, &out) != 0)
		pgt_die("applying schema to %s: %s", name, out);
	free(out);
	free(script);
	free(path);
}

const char *
pgt_createdb(struct pgt *pg, const char *name, int with_schema)
{
	char	*sql = pgt_strf("CREATE DATABASE \"%s\" TEMPLATE template0", name);
	char	*out = NULL;

	if (pgt_psql(pg, "postgres", sql, &out) != 0)
		pgt_die("%s: %s", sql, out);
	free(out);
	free(sql);
	if (with_schema)
		pgt_apply_schema(pg, name);
	return pgt_conninfo(pg, name);
}

int
pgt_stop(struct pgt *pg, const char *mode)
{
	return pgt_ctl(pg, "stop", mode != NULL ? mode : "fast");
}

int
pgt_restart(struct pgt *pg)
{
	/* A killed postmaster can leave backends behind for a moment. */
	pgt_hard_kill(pg->data);
	return pgt_ctl(pg, "start", NULL);
}

int
pgt_kill9(struct pgt *pg)
{
	pid_t	 pm = pgt_pm_pid(pg->data);
	int	 i;

	if (pm <= 0 || kill(pm, SIGKILL) == -1)
		return -1;
	/* Backends notice the postmaster's death by themselves; wait, then
	 * make sure, so a restart finds no old shared memory in use. */
	for (i = 0; i < 300 && pgt_signal_children(pm, 0) > 0; i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	pgt_signal_children(pm, SIGKILL);
	return 0;
}

int
pgt_freeze(struct pgt *pg)
{
	pid_t pm = pgt_pm_pid(pg->data);

	if (pm <= 0 || kill(pm, SIGSTOP) == -1)
		return -1;
	pgt_signal_children(pm, SIGSTOP);
	return 0;
}

int
pgt_thaw(struct pgt *pg)
{
	pid_t pm = pgt_pm_pid(pg->data);

	if (pm <= 0)
		return -1;
	pgt_signal_children(pm, SIGCONT);
	return kill(pm, SIGCONT);
}

/*
 * A streaming standby of primary (pg_basebackup -R), started on its own
 * port; it follows the primary until pgt_promote().
 */
struct pgt *
pgt_standby(struct pgt *primary)
{
	struct pgt	*pg = pgt_prepare(NULL);
	char		*bb = pgt_strf("%s/pg_basebackup", pgt_bindir()), *out = NULL;
	char		 port[16];
	char		*rm[] = { "/bin/rm", "-rf", pg->data, NULL };
	char		*argv[] = { bb, "-h", "127.0.0.1", "-p", port, "-U",
	    "postgres", "-D", pg->data, "-R", "-X", "stream", "--no-sync",
	    "--checkpoint=fast", NULL };
	char		*conf;

	pgt_run(rm, 0, NULL);
	snprintf(port, sizeof(port), "%d", primary->port);
	if (pgt_run(argv, 1, &out) != 0)
		pgt_die("pg_basebackup: %s", out);
	free(out);
	free(bb);
	chmod(pg->data, 0700);
	conf = pgt_strf("%s/postgresql.conf", pg->data);
	pgt_append(conf, "\n");
	free(conf);
	pgt_write_conf(pg, "hot_standby = on\n");
	if (pgt_ctl(pg, "start", NULL) != 0)
		pgt_die("cannot start the standby in %s", pg->data);
	return pg;
}

int
pgt_promote(struct pgt *pg)
{
	return pgt_ctl(pg, "promote", NULL);
}

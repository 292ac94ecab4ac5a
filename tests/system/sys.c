/*
 * sys: the system-test rig (see sys.h). Workers reach PostgreSQL only
 * through the fault proxy; the test's own SQL goes to PostgreSQL directly,
 * so a fault never hides the figures the test reads.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fp.h"
#include "hfd.h"
#include "json.h"
#include "pgt.h"
#include "sipp.h"
#include "sys.h"
#include "tu.h"
#include "util.h"

#define SYS_SECRET	"sys_app_secret"
#define SYS_EMAIL	"agent@example.com"
#define SYS_PASSWORD	"correct horse battery"
#define SYS_ROLE	"holdfast"	/* the workers' role: not a superuser */

const char *const sys_proc_names[SYS_NPROC] = { "http:0", "http:1", "whatsapp", "telephony" };
const char *const sys_group_names[SYS_NGROUP] = { "http", "whatsapp", "telephony" };

long long
sys_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
sys_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The http worker is built at the top of the build dir for now and will
 * move to workers/http/: take whichever exists. */
static char *
sys_http_bin(void)
{
	char *p = tu_buildpath("workers/http/holdfast-http");

	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return tu_buildpath("holdfast-http");
}

static char *
sys_conninfo_port(struct sys *s, int port)
{
	const char	*ci = pgt_conninfo(s->pg, "hf"), *p = strstr(ci, "port=");
	const char	*rest = strchr(p, ' ');
	char		*a = xasprintf("%.*sport=%d%s", (int)(p - ci), ci, port, rest ? rest : "");
	char		*u = strstr(a, "user=postgres"), *b;

	if (u == NULL)
		return a;
	*u = '\0';
	b = xasprintf("%suser=" SYS_ROLE "%s", a, u + strlen("user=postgres"));
	free(a);
	return b;
}

static void
sys_write_conf(struct sys *s, const char *worker_extra)
{
	char	*ci = sys_conninfo_port(s, fp_port(s->fp));
	char	*http = sys_http_bin();
	char	*wa = tu_buildpath("workers/whatsapp/holdfast-whatsapp");
	char	*tel = tu_buildpath("workers/telephony/holdfast-telephony");
	char	*text;

	/* backoff_reset = 2s: the kill -9 loop kills each instance every few
	 * seconds on purpose; with the default 60 s window holdfastd counts
	 * five such deaths in a minute as a crash loop and leaves the worker
	 * FATAL (its policy, reported; not what this test is about).
	 * Short timeouts so each fault is seen and left within seconds: a
	 * 1 s statement_timeout, 1.5 s client deadline, 1 s to connect, backoff capped at 1 s. */
	text = xasprintf(
	    "[holdfast]\ncontrol_socket = run/hf.sock\nstate_dir = %s/state\n"
	    "log_level = info\nshutdown_timeout = 10s\n"
	    "[database]\nconninfo = %s\npool_size = 2\nstatement_timeout = 1s\n"
	    "query_timeout = 1500ms\nconnect_timeout = 1s\nbackoff_initial = 100ms\n"
	    "backoff_max = 1s\n"
	    "[whatsapp]\nverify_token = sys-vtok\napp_secret = " SYS_SECRET "\n"
	    "access_token = sys-token\ngraph_api_url = http://127.0.0.1:9\n"
	    "poll_interval = 500ms\nsession_idle_timeout = 1h\n"
	    "[worker:http]\ncommand = %s\nnumprocs = 2\nlisten = 127.0.0.1:%d\n"
	    "login_rate = 100000\nbackoff_reset = 2s\n"
	    "[worker:whatsapp]\ncommand = %s\nheartbeat_timeout = 3s\nbackoff_reset = 2s\n"
	    "[worker:telephony]\ncommand = %s\nlisten = udp:127.0.0.1:%d\n"
	    "backoff_reset = 2s\n%s",
	    s->dir, ci, http, s->http_port, wa, tel, s->sip_port,
	    worker_extra ? worker_extra : "");
	ck_assert_int_eq(tu_write_file(s->conf, text), 0);
	free(text);
	free(ci);
	free(http);
	free(wa);
	free(tel);
}

/* The workers connect as an ordinary role owning the schema, as in
 * production: superuser_reserved_connections then applies to them. */
static void
sys_role(struct sys *s)
{
	ck_assert_int_eq(sys_psql(s, "CREATE ROLE " SYS_ROLE " LOGIN; "
	    "ALTER SCHEMA public OWNER TO " SYS_ROLE), 0);
	ck_assert_int_eq(sys_psql(s, "DO $$ DECLARE r record; BEGIN "
	    "FOR r IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP "
	    "EXECUTE format('ALTER TABLE %I OWNER TO " SYS_ROLE "', r.tablename); "
	    "END LOOP; END $$"), 0);
}

static void
sys_useradd(struct sys *s)
{
	char	*admin = tu_buildpath("workers/admin/holdfast-admin");
	char	*cmd = xasprintf("printf '%%s\\n' '" SYS_PASSWORD "' | %s -c %s useradd "
	    SYS_EMAIL " >>%s/admin.log 2>&1", admin, s->conf, s->dir);

	ck_assert_msg(tu_sh(cmd, NULL) == 0, "holdfast-admin useradd failed (%s/admin.log)", s->dir);
	free(cmd);
	free(admin);
}

void
sys_spawn_hfd(struct sys *s)
{
	char *argv[] = { tu_buildpath("supervisor/holdfastd"), "-c", s->conf, NULL };

	s->hfd = tu_spawn(argv, NULL, s->log);
	free(argv[0]);
}

/* A failed assertion exits the test process: holdfastd (and through it
 * its workers) must not outlive it. */
static struct sys	*sys_current;
static pid_t		 sys_owner;

static void
sys_atexit(void)
{
	if (sys_current != NULL && getpid() == sys_owner && sys_current->hfd > 0)
		tu_stop(sys_current->hfd, 10000);
}

void
sys_start(struct sys *s, const char *pg_opts, const char *worker_extra)
{
	char *st;

	if (sys_owner == 0)
		atexit(sys_atexit);
	sys_current = s;
	sys_owner = getpid();

	memset(s, 0, sizeof(*s));
	s->pg = pgt_start(pg_opts);
	pgt_createdb(s->pg, "hf", 1);
	s->fp = fp_start(pgt_port(s->pg));
	s->dir = tu_tmpdir("system");
	s->conf = xasprintf("%s/holdfast.conf", s->dir);
	s->log = xasprintf("%s/holdfastd.log", s->dir);
	s->sock = xasprintf("%s/run/hf.sock", s->dir);
	st = xasprintf("%s/state", s->dir);
	mkdir(st, 0700);
	free(st);
	s->http_port = tu_free_port(SOCK_STREAM);
	s->sip_port = tu_free_port(SOCK_DGRAM);
	sys_role(s);
	sys_write_conf(s, worker_extra);
	sys_useradd(s);
	sys_spawn_hfd(s);
	ck_assert_msg(sys_wait_all_running(s, 60000),
	    "the workers did not all come up with the DB up (%s)", s->log);
}

void
sys_finish(struct sys *s)
{
	if (s->hfd > 0)
		tu_stop(s->hfd, 15000);
	s->hfd = 0;
	sys_current = NULL;
	fp_stop(s->fp);
	pgt_destroy(s->pg);
	if (getenv("SYSTEM_KEEP") == NULL)
		tu_rmrf(s->dir);
	free(s->dir);
	free(s->conf);
	free(s->log);
	free(s->sock);
}

int
sys_ctl(struct sys *s, const char *args, char **out)
{
	return hfd_ctl_at(s->sock, args, out);
}

static void
sys_status_one(yajl_val p, struct sys_proc *out)
{
	yajl_val db = json_get_object(p, "db");

	snprintf(out->state, sizeof(out->state), "%s", json_get_str(p, "state"));
	json_get_int(p, "pid", &out->pid);
	json_get_int(p, "restarts", &out->restarts);
	snprintf(out->db, sizeof(out->db), "%s",
	    db != NULL && json_get_str(db, "state") ? json_get_str(db, "state") : "unknown");
}

int
sys_status(struct sys *s, struct sys_proc *procs)
{
	char		*out = NULL, err[128];
	yajl_val	 tree, arr;
	int		 found = 0;

	memset(procs, 0, SYS_NPROC * sizeof(*procs));
	sys_ctl(s, "--json status 2>/dev/null", &out);
	tree = out != NULL ? json_parse(out, strlen(out), err, sizeof(err)) : NULL;
	free(out);
	if (tree == NULL)
		return 0;
	arr = json_get_array(tree, "procs");
	for (size_t i = 0; arr != NULL && i < arr->u.array.len; i++) {
		yajl_val	 p = arr->u.array.values[i];
		const char	*name = json_get_str(p, "name");

		for (int k = 0; name != NULL && k < SYS_NPROC; k++)
			if (strcmp(name, sys_proc_names[k]) == 0) {
				sys_status_one(p, &procs[k]);
				found++;
			}
	}
	yajl_tree_free(tree);
	return found;
}

static int
sys_all_running(void *arg)
{
	struct sys_proc	 p[SYS_NPROC];

	if (sys_status(arg, p) != SYS_NPROC)
		return 0;
	for (int i = 0; i < SYS_NPROC; i++)
		if (strcmp(p[i].state, "RUNNING") != 0 || strcmp(p[i].db, "up") != 0)
			return 0;
	return 1;
}

int
sys_wait_all_running(struct sys *s, int timeout_ms)
{
	return tu_wait_for(sys_all_running, s, timeout_ms);
}

long
sys_log_size(struct sys *s)
{
	struct stat sb;

	return stat(s->log, &sb) == 0 ? (long)sb.st_size : 0;
}

int
sys_log_count(struct sys *s, long since, const char *group, const char *needle)
{
	size_t	 len;
	char	*text = tu_read_file(s->log, &len), *line, *nl;
	size_t	 glen = strlen(group);
	int	 n = 0;

	if (text == NULL)
		return 0;
	for (line = text + ((size_t)since < len ? (size_t)since : len); *line; line = nl + 1) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		if ((glen == 0 || (strncmp(line, group, glen) == 0 &&
		    line[glen] == ':')) && strstr(line, needle) != NULL)
			n++;
		if (nl == NULL)
			break;
	}
	free(text);
	return n;
}

/* ---- load ---- */

pid_t
sys_load_start(struct sys *s, const char *tag, int rate, int duration_ms)
{
	char	*bin = tu_buildpath("tests/system/sysload");
	char	 port[16], r[16], d[24];
	char	*log = xasprintf("%s/%s.load.log", s->dir, tag);
	char	*argv[] = { bin, "-p", port, "-s", SYS_SECRET, "-u", SYS_EMAIL,
	    "-w", SYS_PASSWORD, "-t", (char *)tag, "-o", s->dir, "-r", r, "-d", d, NULL };
	pid_t	 pid;

	snprintf(port, sizeof(port), "%d", s->http_port);
	snprintf(r, sizeof(r), "%d", rate);
	snprintf(d, sizeof(d), "%d", duration_ms);
	pid = tu_spawn(argv, NULL, log);
	free(bin);
	free(log);
	return pid;
}

void
sys_load_wait(struct sys *s, pid_t pid, const char *tag, int total_ms, struct sys_load *l)
{
	char	*path = xasprintf("%s/%s.stats", s->dir, tag), *text;
	int	 status;

	/* bounded: its own duration plus the slowest request (15 s); on TERM
	 * it ends after the request it is in */
	if (tu_wait_pid(pid, total_ms + 30000, &status) != 0) {
		tu_kill(pid, SIGTERM);
		if (tu_wait_pid(pid, 20000, &status) != 0)
			tu_kill(pid, SIGKILL);
	}
	memset(l, 0, sizeof(*l));
	text = tu_read_file(path, NULL);
	ck_assert_msg(text != NULL, "sysload wrote no %s", path);
	ck_assert_int_eq(sscanf(text, "s200=%ld s401=%ld s429=%ld s500=%ld s503=%ld "
	    "sother=%ld connerr=%ld timeout=%ld webhooks=%ld acked=%ld", &l->s200,
	    &l->s401, &l->s429, &l->s500, &l->s503, &l->sother, &l->connerr,
	    &l->timeout, &l->webhooks, &l->acked), 10);
	free(text);
	free(path);
}

/* A temp table "acked" of the lines of file list (psql's client-side
 * \copy: the server cannot read the test's directory), then sql on it. */
static long
sys_list_query(struct sys *s, const char *list, const char *sql)
{
	char	*file = xasprintf("%s.sql", list);
	char	*q = xasprintf("CREATE TEMP TABLE acked(wamid text);\n"
	    "\\copy acked FROM '%s'\n%s;\n", list, sql);
	char	*cmd = xasprintf("%s/psql -XAtq -v ON_ERROR_STOP=1 -h 127.0.0.1 -p %d "
	    "-U postgres -d hf -f %s 2>&1", pgt_bindir(), pgt_port(s->pg), file);
	char	*out = NULL;
	long	 v = -1;

	ck_assert_int_eq(tu_write_file(file, q), 0);
	if (tu_sh(cmd, &out) == 0 && out != NULL) {
		char *last;

		while ((last = strrchr(out, '\n')) != NULL && last[1] == '\0')
			*last = '\0';
		last = strrchr(out, '\n');
		v = atol(last ? last + 1 : out);
	}
	free(out);
	free(q);
	free(cmd);
	free(file);
	return v;
}

static long
sys_acked_query(struct sys *s, const char *tag, const char *sql)
{
	char	*list = xasprintf("%s/%s.acked", s->dir, tag);
	long	 v = sys_list_query(s, list, sql);

	free(list);
	return v;
}

long
sys_msgs_stored(struct sys *s, const char *tag)
{
	return sys_acked_query(s, tag, "SELECT count(DISTINCT a.wamid) FROM acked a "
	    "JOIN wa_messages m ON m.wamid = a.wamid");
}

long
sys_msgs_unassigned(struct sys *s, const char *tag)
{
	return sys_acked_query(s, tag, "SELECT count(*) FROM acked a "
	    "JOIN wa_messages m ON m.wamid = a.wamid WHERE m.conversation_id IS NULL");
}

long
sys_msgs_dup(struct sys *s, const char *tag)
{
	return sys_acked_query(s, tag, "SELECT count(*) - count(DISTINCT m.wamid) "
	    "FROM wa_messages m WHERE m.wamid IN (SELECT wamid FROM acked)");
}

/* ---- calls ---- */

/* sipp's uac against the system; its files in the test directory. */
static void
sys_sipp_opts(struct sys *s, const char *tag, int rate, int calls, struct sipp_opts *o)
{
	*o = (struct sipp_opts){ .dir = s->dir, .tag = tag, .scenario = "uac",
	    .port = s->sip_port, .rate = rate, .calls = calls, .timeout_s = 120 };
}

pid_t
sys_sipp_start(struct sys *s, const char *tag, int rate, int calls)
{
	struct sipp_opts o;

	sys_sipp_opts(s, tag, rate, calls, &o);
	return sipp_start(&o);
}

void
sys_sipp_wait(struct sys *s, pid_t pid, const char *tag, struct sys_calls *c, int timeout_ms)
{
	struct sipp_opts	o;
	struct sipp_result	r;

	sys_sipp_opts(s, tag, 0, 0, &o);
	sipp_wait(pid, &o, timeout_ms, &r);
	c->ok = r.ok;
	c->failed = r.failed;
	c->status = r.rc;
}

long
sys_cdrs(struct sys *s, pid_t sipp)
{
	char		*q = xasprintf("SELECT count(*) FROM calls WHERE call_id LIKE '%%-%d@%%'",
	    (int)sipp);
	long long	 v = pgt_scalar(s->pg, "hf", q);

	free(q);
	return (long)v;
}

long
sys_cdrs_dup(struct sys *s)
{
	return (long)pgt_scalar(s->pg, "hf",
	    "SELECT count(*) - count(DISTINCT call_id) FROM calls");
}

/* sipp's short message trace: "date\ttime\tepoch\tS|R\tcall-id\tCSeq:n
 * METHOD\tfirst line". A call finished when its BYE got a 200. */
static int
sys_finished_list(struct sys *s, const char *tag, const char *out)
{
	char	*path = xasprintf("%s/%s.short", s->dir, tag);
	char	*text = tu_read_file(path, NULL), *line, *nl;
	FILE	*f = fopen(out, "we");
	int	 n = 0;

	free(path);
	if (text == NULL || f == NULL) {
		free(text);
		if (f != NULL)
			fclose(f);
		return -1;
	}
	for (line = text; line != NULL && *line; line = nl ? nl + 1 : NULL) {
		char	*fld[7];
		int	 k = 0;

		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		for (char *p = line; k < 7 && p != NULL; k++) {
			fld[k] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (k == 7 && strcmp(fld[3], "R") == 0 && strstr(fld[5], " BYE") != NULL &&
		    strncmp(fld[6], "SIP/2.0 200", 11) == 0) {
			fprintf(f, "%s\n", fld[4]);
			n++;
		}
	}
	fclose(f);
	free(text);
	return n;
}

long
sys_cdrs_finished_lost(struct sys *s, const char *tag, long *finished)
{
	char	*list = xasprintf("%s/%s.finished", s->dir, tag);
	long	 v = -1;

	*finished = sys_finished_list(s, tag, list);
	if (*finished >= 0)
		v = sys_list_query(s, list, "SELECT count(*) FROM acked a WHERE NOT EXISTS "
		    "(SELECT 1 FROM calls c WHERE c.call_id = a.wamid)");
	free(list);
	return v;
}

long long
sys_scalar(struct sys *s, const char *sql)
{
	return pgt_scalar(s->pg, "hf", sql);
}

int
sys_psql(struct sys *s, const char *sql)
{
	return pgt_psql(s->pg, "hf", sql, NULL);
}

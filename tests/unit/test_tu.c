/*
 * test_tu: the test library itself. Every integration suite trusts tu to
 * stop what it started (by pid, group and all), to bound every wait, and to
 * read HTTP responses framed any of the three ways a server may frame them;
 * a bug here would make other suites pass or fail for the wrong reason.
 */
#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tu.h"

START_TEST(test_files)
{
	char	*dir = tu_tmpdir("tu"), *path, *text;
	size_t	 len;
	struct stat st;

	ck_assert_int_eq(stat(dir, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	ck_assert_int_eq(asprintf(&path, "%s/f.txt", dir) > 0, 1);
	ck_assert_ptr_null(tu_read_file(path, NULL));
	ck_assert_int_eq(tu_count_in_file(path, "x"), 0);
	ck_assert_int_eq(tu_write_file(path, "ab [DB_DOWN] x [DB_DOWN]\n"), 0);
	text = tu_read_file(path, &len);
	ck_assert_str_eq(text, "ab [DB_DOWN] x [DB_DOWN]\n");
	ck_assert_uint_eq(len, strlen(text));
	ck_assert_int_eq(tu_count_in_file(path, "[DB_DOWN]"), 2);
	ck_assert_int_eq(tu_wait_file_count(path, "[DB_DOWN]", 2, 100), 1);
	ck_assert_int_eq(tu_wait_file_count(path, "[DB_DOWN]", 3, 50), 0);
	free(text);
	tu_rmrf(dir);
	ck_assert_int_eq(stat(dir, &st), -1);
	free(path);
	free(dir);
}
END_TEST

START_TEST(test_sh)
{
	char	*out = NULL;

	ck_assert_int_eq(tu_sh("echo hello; exit 3", &out), 3);
	ck_assert_str_eq(out, "hello\n");
	free(out);
	ck_assert_int_eq(tu_sh("kill -9 $$", NULL), -1);
}
END_TEST

START_TEST(test_free_port)
{
	int	tcp = tu_free_port(SOCK_STREAM), udp = tu_free_port(SOCK_DGRAM);

	ck_assert(tcp > 0 && tcp < 65536);
	ck_assert(udp > 0 && udp < 65536);
}
END_TEST

/* A child that ignores SIGTERM and has a grandchild in its group. */
START_TEST(test_spawn_stop_group)
{
	char	*dir = tu_tmpdir("tu"), *log, *pidfile, *text;
	char	*argv[] = { "/bin/sh", "-c",
		    "trap '' TERM; echo \"env=$TU_X\"; sleep 30 & echo $! > \"$PIDF\"; wait", NULL };
	char	*env[3];
	pid_t	 pid, grand;
	int	 status;

	ck_assert(asprintf(&log, "%s/log", dir) > 0);
	ck_assert(asprintf(&pidfile, "%s/pid", dir) > 0);
	ck_assert(asprintf(&env[1], "PIDF=%s", pidfile) > 0);
	env[0] = "TU_X=42";
	env[2] = NULL;
	pid = tu_spawn(argv, env, log);
	ck_assert_int_eq(getpgid(pid), pid);
	ck_assert_int_eq(tu_wait_file_count(log, "env=42", 1, 5000), 1);
	ck_assert_int_eq(tu_wait_file_count(pidfile, "\n", 1, 5000), 1);
	text = tu_read_file(pidfile, NULL);
	grand = atoi(text);
	ck_assert(tu_pid_alive(pid));
	ck_assert(tu_pid_alive(grand));
	ck_assert_int_eq(tu_wait_pid(pid, 50, &status), -1);
	status = tu_stop(pid, 200);
	ck_assert(WIFSIGNALED(status));
	ck_assert_int_eq(WTERMSIG(status), SIGKILL);
	ck_assert(!tu_pid_alive(pid));
	/* The grandchild died with the group (it may linger as init's zombie). */
	usleep(100000);
	ck_assert(!tu_pid_alive(grand));
	free(text);
	tu_rmrf(dir);
	free(dir);
	free(log);
	free(pidfile);
	free(env[1]);
}
END_TEST

/* A process that is not our child (a supervisor's worker) is waited for too. */
START_TEST(test_wait_non_child)
{
	char	*dir = tu_tmpdir("tu"), *pidfile, *env[2], *text;
	char	*argv[] = { "/bin/sh", "-c", "sleep 30 & echo $! > \"$PIDF\"; wait", NULL };
	pid_t	 pid, grand;
	int	 status = 0;

	ck_assert(asprintf(&pidfile, "%s/pid", dir) > 0);
	ck_assert(asprintf(&env[0], "PIDF=%s", pidfile) > 0);
	env[1] = NULL;
	pid = tu_spawn(argv, env, NULL);
	ck_assert_int_eq(tu_wait_file_count(pidfile, "\n", 1, 5000), 1);
	text = tu_read_file(pidfile, NULL);
	grand = atoi(text);
	ck_assert_int_eq(tu_wait_pid(grand, 50, &status), -1);
	ck_assert(tu_pid_alive(grand));
	ck_assert_int_eq(tu_stop(grand, 5000), -1);
	ck_assert(!tu_pid_alive(grand));
	/* Its parent saw it die of SIGTERM and exited in turn. */
	ck_assert_int_eq(tu_wait_pid(pid, 5000, &status), 0);
	ck_assert(WIFEXITED(status));
	free(text);
	free(env[0]);
	free(pidfile);
	tu_rmrf(dir);
	free(dir);
}
END_TEST

START_TEST(test_spawn_exit_status)
{
	char	*argv[] = { "/bin/sh", "-c", "exit 7", NULL };
	char	*bad[] = { "/nonexistent/prog", NULL };
	pid_t	 pid = tu_spawn(argv, NULL, NULL);
	int	 status;

	ck_assert_int_eq(tu_wait_pid(pid, 5000, &status), 0);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 7);
	pid = tu_spawn(bad, NULL, "/dev/null");
	ck_assert_int_eq(tu_wait_pid(pid, 5000, &status), 0);
	ck_assert_int_eq(WEXITSTATUS(status), 127);
}
END_TEST

/*
 * A one-shot HTTP server in a forked child: accepts one connection, reads
 * the request head (and records it in reqfile), writes resp verbatim and
 * closes.
 */
static pid_t
serve_once(int *port, const char *resp, const char *reqfile)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	char			buf[8192];
	size_t			n = 0;
	ssize_t			r;
	int			lfd, fd;
	pid_t			pid;

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sin, &len);
	*port = ntohs(sin.sin_port);
	if ((pid = fork()) != 0) {
		close(lfd);
		return pid;
	}
	alarm(10);
	fd = accept(lfd, NULL, NULL);
	while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0) {
		n += (size_t)r;
		buf[n] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL && strstr(buf, "hello") != NULL)
			break;
		if (strstr(buf, "\r\n\r\n") != NULL && strncmp(buf, "GET", 3) == 0)
			break;
	}
	if (reqfile != NULL)
		tu_write_file(reqfile, buf);
	if (strcmp(resp, "HANG") == 0)
		sleep(5);
	else
		(void)!write(fd, resp, strlen(resp));
	close(fd);
	_exit(0);
}

START_TEST(test_http_framings)
{
	static const char *resps[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloEXTRA",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\n\r\n",
		"HTTP/1.0 503 Service Unavailable\r\nRetry-After: 1\r\n\r\nhello",
	};
	static const int codes[] = { 200, 201, 503 };
	char	*body, *head;
	int	 i, port, status;
	pid_t	 pid;

	for (i = 0; i < 3; i++) {
		pid = serve_once(&port, resps[i], NULL);
		ck_assert_int_eq(tu_http(port, "GET", "/x", NULL, NULL, 0, &body, &head, 5000),
		    codes[i]);
		ck_assert_str_eq(body, "hello");
		ck_assert_ptr_nonnull(head);
		free(body);
		free(head);
		ck_assert_int_eq(tu_wait_pid(pid, 5000, &status), 0);
	}
}
END_TEST

START_TEST(test_http_request_and_errors)
{
	char	*dir = tu_tmpdir("tu"), *req, *reqfile, *body;
	int	 port, status;
	pid_t	 pid;

	ck_assert(asprintf(&reqfile, "%s/req", dir) > 0);
	pid = serve_once(&port, "HTTP/1.1 204 No Content\r\n\r\n", reqfile);
	ck_assert_int_eq(tu_http(port, "POST", "/api/auth/login",
	    "Content-Type: application/json\nX-A: b\r\n", "hello", 5, &body, NULL, 5000), 204);
	ck_assert_str_eq(body, "");
	free(body);
	ck_assert_int_eq(tu_wait_pid(pid, 5000, &status), 0);
	req = tu_read_file(reqfile, NULL);
	ck_assert_ptr_nonnull(strstr(req, "POST /api/auth/login HTTP/1.1\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "Content-Type: application/json\r\nX-A: b\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "Content-Length: 5\r\n"));
	ck_assert_ptr_nonnull(strstr(req, "\r\n\r\nhello"));
	free(req);

	/* Timeout: the server never answers. */
	pid = serve_once(&port, "HANG", NULL);
	ck_assert_int_eq(tu_http(port, "GET", "/", NULL, NULL, 0, &body, NULL, 200), -2);
	ck_assert_ptr_null(body);
	tu_kill(pid, SIGKILL);
	tu_wait_pid(pid, 5000, &status);

	/* Nobody listening. */
	port = tu_free_port(SOCK_STREAM);
	ck_assert_int_eq(tu_http(port, "GET", "/", NULL, NULL, 0, NULL, NULL, 1000), -1);
	tu_rmrf(dir);
	free(dir);
	free(reqfile);
}
END_TEST

static int
flag_set(void *arg)
{
	return ++*(int *)arg >= 3;
}

/*
 * A failed test ends with _exit() (Check's fork mode): nothing it started
 * may outlive it, and its temp directory goes too. The child here plays
 * the failing test.
 */
static int
gone(void *arg)
{
	return !tu_pid_alive(*(pid_t *)arg);
}

START_TEST(test_failed_test_cleaned_up)
{
	int	 p[2], status;
	pid_t	 child, sleeper = 0;
	char	 dir[512] = "";
	struct stat st;

	ck_assert_int_eq(pipe(p), 0);
	if ((child = fork()) == 0) {
		char	*d = tu_tmpdir("jan");
		pid_t	 s = tu_spawn((char *[]){ "/bin/sleep", "60", NULL }, NULL, NULL);

		(void)!write(p[1], &s, sizeof(s));
		(void)!write(p[1], d, strlen(d) + 1);
		_exit(1);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &sleeper, sizeof(sleeper)), (ssize_t)sizeof(sleeper));
	ck_assert_int_gt(read(p[0], dir, sizeof(dir) - 1), 0);
	close(p[0]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	ck_assert_msg(tu_wait_for(gone, &sleeper, 5000),
	    "sleep %d outlived the failed test", (int)sleeper);
	for (int i = 0; i < 100 && stat(dir, &st) == 0; i++)
		usleep(20000);
	ck_assert_msg(stat(dir, &st) == -1 && errno == ENOENT,
	    "%s outlived the failed test", dir);
}
END_TEST

/*
 * Check kills a test's process group as soon as the test process ends: an
 * exit test ends right after its setup registered a directory, and the
 * janitor must already be out of that group to remove it.
 */
START_TEST(test_group_killed_dir_removed)
{
	int	 p[2], status;
	pid_t	 child;
	char	 dir[512] = "";
	struct stat st;

	ck_assert_int_eq(pipe(p), 0);
	if ((child = fork()) == 0) {
		char *d;

		setpgid(0, 0);
		d = tu_tmpdir("jangrp");
		(void)!write(p[1], d, strlen(d) + 1);
		_exit(1);
	}
	close(p[1]);
	ck_assert_int_eq(waitpid(child, &status, 0), child);
	kill(-child, SIGKILL);
	ck_assert_int_gt(read(p[0], dir, sizeof(dir) - 1), 0);
	close(p[0]);
	for (int i = 0; i < 100 && stat(dir, &st) == 0; i++)
		usleep(20000);
	ck_assert_msg(stat(dir, &st) == -1 && errno == ENOENT,
	    "%s outlived its test, whose process group was killed", dir);
}
END_TEST

START_TEST(test_wait_for)
{
	int	n = 0;

	ck_assert_int_eq(tu_wait_for(flag_set, &n, 1000), 1);
	ck_assert_int_eq(n, 3);
	n = -1000000;
	ck_assert_int_eq(tu_wait_for(flag_set, &n, 30), 0);
}
END_TEST

int
main(void)
{
	Suite	*s = suite_create("tu");
	TCase	*tc = tu_tcase(s, "tu", 0);

	tcase_add_test(tc, test_files);
	tcase_add_test(tc, test_sh);
	tcase_add_test(tc, test_free_port);
	tcase_add_test(tc, test_spawn_stop_group);
	tcase_add_test(tc, test_spawn_exit_status);
	tcase_add_test(tc, test_wait_non_child);
	tcase_add_test(tc, test_http_framings);
	tcase_add_test(tc, test_http_request_and_errors);
	tcase_add_test(tc, test_wait_for);
	tcase_add_test(tc, test_failed_test_cleaned_up);
	tcase_add_test(tc, test_group_killed_dir_removed);
	return tu_run(s);
}

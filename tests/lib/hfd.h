/*
 * hfd: a private holdfastd for one integration test: its own directory,
 * config, control socket and log; started by tu_spawn, asked through
 * holdfastctl, waited on with a deadline, stopped by its PID.
 */
#ifndef HOLDFAST_HFD_H
#define HOLDFAST_HFD_H

#include <sys/types.h>

struct hfd {
	char	*dir;		/* a fresh directory, removed by hfd_free */
	char	*conf;		/* dir/holdfast.conf */
	char	*sock;		/* dir/run/hf.sock: configs say control_socket = run/hf.sock */
	char	*log;		/* dir/holdfastd.log: its output and its workers' */
	pid_t	 pid;		/* 0: not running */
};

/* A fresh directory for tag, and the paths in it; nothing runs yet. */
void hfd_init(struct hfd *, const char *tag);
void hfd_write_conf(struct hfd *, const char *text);
/* Starts holdfastd -c conf with extra environment (NULL-terminated, may
 * be NULL), output appended to log; does not wait. */
void hfd_spawn(struct hfd *, char *const env[]);
/* hfd_spawn of "wrap... holdfastd opts... -c conf": wrap (a command that
 * runs holdfastd, as setpriv ... --) and opts (as -v) are NULL-terminated
 * and may be NULL; pid is then wrap's. */
void hfd_spawn_argv(struct hfd *, char *const wrap[], char *const opts[],
    char *const env[]);
/* Whether the control socket answers now (a tu_wait_for predicate on a
 * struct hfd *); hfd_wait_up: 1 once it does, 0 after timeout_ms. */
int hfd_is_up(void *hfd);
int hfd_wait_up(struct hfd *, int timeout_ms);
/* holdfastctl -s sock args (sh syntax); its exit status, output in *out.
 * hfd_ctl_at: the same for a holdfastd another rig started. */
int hfd_ctl(struct hfd *, const char *args, char **out);
int hfd_ctl_at(const char *sock, const char *args, char **out);
/* The pid `holdfastctl pid name` prints (its first instance's); 0 when it
 * prints none. */
pid_t hfd_pid(struct hfd *, const char *name);
/* Stops holdfastd by its PID (SIGTERM, then SIGKILL after timeout_ms);
 * its wait status, or -1. */
int hfd_stop(struct hfd *, int timeout_ms);
/* Stops it, removes the directory (kept when $HFD_KEEP is set, for a
 * post-mortem) and frees the paths. */
void hfd_free(struct hfd *);

#endif

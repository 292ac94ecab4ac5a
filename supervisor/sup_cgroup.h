/*
 * sup_cgroup: a cgroup per worker process, for memory_max, cpu_quota and
 * pids_max, OOM kills reported as such, and leftovers (escaped
 * grandchildren) killed when the process ends; and holdfastd's own
 * oom_score_adj. See docs/deployment.md, "Limits and isolation".
 *
 * holdfastd manages the cgroup it was started in: on cgroup v2 it moves
 * itself into a leaf "supervisor" of it (no process may sit in a cgroup
 * whose children get controllers) and gives each process a sibling
 * "GROUP.INDEX.N"; on cgroup v1 (memory, pids, cpu hierarchies) each
 * process gets "GROUP.INDEX.N" under holdfastd's own cgroup of each
 * hierarchy it needs. A section needs a cgroup when it sets a limit or
 * `cgroup = true`; nothing here runs for a config without one.
 */
#ifndef HOLDFAST_SUP_CGROUP_H
#define HOLDFAST_SUP_CGROUP_H

#include <stddef.h>

struct cfg;
struct cfg_worker;
struct sup_proc;

#define SUP_CG_MAXFD	3	/* cgroup.procs a child writes itself into */

/* Lowers holdfastd's oom_score_adj (when permitted) and, when a section
 * needs a cgroup, finds the cgroup to manage and logs what it found
 * ([CGROUP] lines); after an upgrade, takes back the running processes'
 * cgroups. Called once the groups exist. */
void sup_cgroup_init(const struct cfg *, int restoring);
/* [holdfast] oom_score_adj (start, reload). */
void sup_cgroup_self_oom(int adj);
/* holdfastd's own oom_score_adj (a child with the same needs no write). */
int sup_cgroup_own_oom(void);
/* Whether the section's processes get a cgroup. */
int sup_cgroup_wanted(const struct cfg_worker *);
/*
 * Before vfork: creates the cgroup of p's next process with the
 * section's limits and opens the cgroup.procs files the child writes
 * "0" into (fds, *nfds). 0 (nfds 0 when the section needs none), or -1
 * with the reason: a section whose limits cannot be applied never starts.
 */
int sup_cgroup_prepare(struct sup_proc *p, int *fds, int *nfds, char *err, size_t errlen);
/* After vfork (started: whether a child runs): closes fds; without a
 * child the cgroup is removed. */
void sup_cgroup_spawned(struct sup_proc *p, int *fds, int nfds, int started);
/* When p's process has been reaped: reads the OOM kill counter (kept for
 * sup_cgroup_oom_killed), kills what is left in the cgroup, removes it. */
void sup_cgroup_exited(struct sup_proc *p);
/* OOM kills in the cgroup of p's last process (0: none, or no cgroup). */
int sup_cgroup_oom_killed(const struct sup_proc *p);
/* Frees p's cgroup record (the process table entry goes away). */
void sup_cgroup_forget(struct sup_proc *p);
/* At exit: removes cgroups still waiting for their last process. */
void sup_cgroup_close(void);

#endif

/*
 * One user namespace per rootless user, shared by every strata they run.
 *
 * A session's namespaces belong to the user namespace of the strata that made
 * it, and only a process with CAP_SYS_ADMIN there may join them (`strata exec`,
 * `strata shell --session`). So the first rootless strata leaves a keeper
 * behind, a process that does nothing but hold its namespace, and later ones
 * join that namespace instead of making their own, as podman's pause process
 * does. Joining is also much cheaper than newuidmap and newgidmap.
 */
#define _GNU_SOURCE
#include "csandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int csb_join_user_namespace(int pid, long long start_time) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/ns/user", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    /* Checked after the open: the descriptor names the namespace of this very process. */
    if (csb_process_start_time(pid) != start_time) {
        close(fd);
        errno = ESRCH;
        return -1;
    }
    int joined = setns(fd, CLONE_NEWUSER);
    int error = errno;
    close(fd);
    errno = error;
    return joined;
}

int csb_start_namespace_keeper(void) {
    pid_t pid = fork();
    if (pid != 0) return (int)pid;
    /* Out of the caller's session and process group: its terminal's signals and a
     * test harness waiting for the caller's pipes to close must not concern it. */
    (void)setsid();
    (void)syscall(SYS_close_range, 0u, ~0u, 0u);
    (void)chdir("/");
    (void)prctl(PR_SET_NAME, "strata-userns", 0, 0, 0);
    sigset_t none;
    sigemptyset(&none);
    (void)sigprocmask(SIG_SETMASK, &none, NULL);
    for (;;) pause();
}

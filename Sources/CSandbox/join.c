/*
 * The joiner: a second command in a running session (`strata exec`), from
 * fork(2) to the command's execve. Like child.c it runs in a child of a
 * multithreaded process, so only async-signal-safe calls are allowed.
 *
 * The order: the session's cgroups (their cgroup.procs fds were opened on the
 * host) → setns into the init's namespaces through its pidfd (one call, so a
 * pid recycled meanwhile cannot mix two processes' namespaces) → working
 * directory → the terminal → (fork) the command, confined as the session's
 * first command is (command.c). The joiner stays outside the session's PID
 * namespace as the command's parent: it forwards signals, reaps the command
 * and reports how it ended. It must never kill(-1): that would be the host's.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_setns
#define SYS_setns 308
#endif

void csb_join_main(const struct csb_spec *spec, int init_pidfd, int fd, int console_fd,
                   const struct winsize *window) {
    /* The command dies with us (csb_exec_command), and we die with strata. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    csb_reset_signals();
    csb_enter_cgroups(fd, spec);

    /* The mount namespace's root becomes our root and working directory: the
     * session's root after its pivot_root, never the host's. */
    int namespaces = CLONE_NEWCGROUP | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWNS;
    if (syscall(SYS_setns, init_pidfd, namespaces) < 0) csb_fail(fd, CSB_STEP_JOIN, errno, 0);
    close(init_pidfd);
    csb_enter_working_directory(fd, spec->working_directory);

    sigset_t wanted;
    csb_take_signals(fd, &wanted);
    /* Like the init: full capabilities and a copy of strata's memory, so not
     * readable or traceable, and holding none of strata's fds. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) csb_fail(fd, CSB_STEP_JOIN, errno, 0);
    csb_close_fds_except_two(fd, console_fd);
    int master = console_fd >= 0 ? csb_open_terminal(fd, console_fd, window) : -1;

    long command = csb_start_command(spec, fd, master, 1);
    if (master >= 0) close(master);

    int status = csb_wait_command(command, &wanted);
    csb_report_end(fd, status);
    _exit(0);
}

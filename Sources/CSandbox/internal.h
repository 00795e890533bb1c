#ifndef CSANDBOX_INTERNAL_H
#define CSANDBOX_INTERNAL_H
#include "csandbox.h"

/* What travels over the error pipe: one message per write, well under PIPE_BUF. */
enum csb_message_kind {
    CSB_MSG_SETUP_FAILED = 1,
    CSB_MSG_EXEC_FAILED = 2,
    CSB_MSG_EXITED = 3,
    CSB_MSG_SIGNALED = 4,
    CSB_MSG_READY = 5,      /* the session is complete; commands may join it */
    CSB_MSG_STARTED = 6,    /* the command's execve happened (or it ended before it) */
};

struct csb_message {
    int kind;
    int step;
    int error;
    int index;
};

/* The host device nodes bind-mounted into the session's /dev. */
extern const char *const csb_device_names[];
extern const int csb_device_count;

/* Docker's masked and read-only paths (moby daemon/pkg/oci/defaults.go),
 * relative to /proc or /sys; the full names are for error messages. */
struct csb_protected_path {
    int under_sys;      /* 0: under /proc, 1: under /sys */
    int read_only;      /* 1: made read-only; 0: masked (hidden) */
    const char *name;   /* relative to /proc or /sys */
    const char *full;   /* absolute, for messages */
};
extern const struct csb_protected_path csb_protected_paths[];
extern const int csb_protected_count;

/* The cloned child: sets up the session and becomes its init. Never returns.
 * With a terminal, the init sends the pseudo-terminal's master over
 * `console_fd` (SCM_RIGHTS) and sizes it to `window` first; otherwise
 * `console_fd` is -1. */
struct winsize;
__attribute__((noreturn)) void csb_child_main(const struct csb_spec *spec, int report_fd, int console_fd,
                                              const struct winsize *window);


/* ---- shared by the session's first command and joined ones (command.c) ---- */

#include <signal.h>

/* One message over the report pipe; csb_fail reports a failed step and exits 125. */
void csb_send_message(int fd, int kind, int step, int error, int index);
__attribute__((noreturn)) void csb_fail(int fd, int step, int error, int index);

/* The directory `path` under `root_fd`, one component at a time, never following a
 * symlink, creating missing ones; an fd, or -error. */
int csb_open_dir_in_root(int root_fd, const char *path);
/* chdir to `path` inside the current root, checked to stay inside it. */
void csb_enter_working_directory(int fd, const char *path);

void csb_reset_signals(void);
void csb_close_fds_except_two(int a, int b);
/* Writes 0 into each of the spec's cgroup.procs fds (moving this process into the
 * session's cgroups) and closes them. */
void csb_enter_cgroups(int fd, const struct csb_spec *spec);

/* A pty from the devpts at /dev/pts, sized to `window`, its master sent over
 * `console_fd` (SCM_RIGHTS); returns the master. */
int csb_open_terminal(int fd, int console_fd, const struct winsize *window);

/* The command, from its fork to execve: a session of its own, the terminal's slave
 * (when `master` >= 0), nofile, seccomp, capabilities, user, no_new_privs. `joined`:
 * its parent is a joiner outside the session, whose death must kill it. */
/* Forks the command (csb_exec_command) and returns its pid once its execve has
 * happened or it has ended, having sent CSB_MSG_STARTED after any failure it reported. */
long csb_start_command(const struct csb_spec *spec, int fd, int master, int joined);
__attribute__((noreturn)) void csb_exec_command(const struct csb_spec *spec, int fd, int master, int joined);

/* No-op handlers for SIGCHLD and the forwarded signals, all blocked; `wanted` is
 * the set to take with sigwaitinfo. */
void csb_take_signals(int fd, sigset_t *wanted);
/* Forwards the signals in `wanted` to `command` and reaps children until it ends;
 * returns its wait status. */
int csb_wait_command(long command, const sigset_t *wanted);
/* Reports the command's end (exited or signaled) over the report pipe. */
void csb_report_end(int fd, int status);

/* The forked joiner (join.c): enters the session of `init_pidfd` and runs the
 * command there. Never returns. */
__attribute__((noreturn)) void csb_join_main(const struct csb_spec *spec, int init_pidfd, int report_fd,
                                             int console_fd, const struct winsize *window);

#endif

#ifndef CSANDBOX_H
#define CSANDBOX_H
/*
 * The session runtime's C side: everything between clone(2) and execve(2).
 *
 * Swift fills one `csb_spec` with plain C data (NUL-terminated strings and
 * NULL-terminated arrays of them) and calls `csb_run`, which clones the
 * session's init, waits for the command and reports how it ended. The child
 * side only makes async-signal-safe calls: it never allocates, never touches
 * stdio and never runs Swift, because the parent is multithreaded.
 *
 * Failures in the child travel back over a close-on-exec pipe as
 * {step, errno, index}; `csb_step_name` and `csb_step_path` turn them into
 * words and the path the step was working on.
 */
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

enum csb_mount_kind {
    CSB_MOUNT_BIND = 1,
    CSB_MOUNT_TMPFS = 2,
};

/* One extra mount, applied inside the new root in spec order. */
struct csb_mount {
    int kind;              /* enum csb_mount_kind */
    const char *source;    /* bind: absolute host path; tmpfs: NULL */
    const char *target;    /* absolute path inside the session, without ".." */
    int read_only;         /* bind only: recursively read-only */
};

struct csb_spec {
    const char *const *lower_dirs;  /* topmost first */
    size_t lower_count;             /* at least 1 */
    const char *upper_dir;
    const char *work_dir;
    const char *root_dir;           /* empty host dir; the overlay is mounted there, in the session only */
    /* Used only when the kernel lacks fsopen(2): the complete legacy overlay
     * option string, or NULL when it would not fit in one page (mount(2)
     * silently truncates longer strings, dropping layers). */
    const char *legacy_overlay_options;
    /* Tests only: take the mount(2) path as if fsopen(2) were missing. */
    int force_legacy_overlay;
    /* strata runs in a user namespace of its own (rootless): overlays keep their
     * bookkeeping in user.overlay.* xattrs (trusted.* needs the initial namespace). */
    int overlay_userxattr;
    /* That namespace maps one id only: gid 5 (tty) does not exist for devpts and
     * setgroups(2) is denied, so neither is asked for. */
    int single_id_map;
    char *const *argv;              /* NULL-terminated, argv[0] non-empty */
    char *const *envp;              /* NULL-terminated KEY=VALUE; PATH is searched from here */
    const char *working_directory;  /* absolute, inside the session */
    const char *hostname;
    int isolate_network;
    const struct csb_mount *mounts;
    size_t mount_count;

    /* Confinement of the command (not of the init). */
    unsigned long long capabilities; /* bit N = capability N: the bounding set; also permitted and effective for uid 0 */
    int last_capability;             /* /proc/sys/kernel/cap_last_cap */
    int no_new_privileges;
    int readonly_root;               /* the overlay read-only (its submounts stay as they are) */
    /* A classic BPF program (struct sock_filter[]), or NULL for none. */
    const void *seccomp_program;
    size_t seccomp_instructions;

    /* Who the command runs as. */
    unsigned uid, gid;
    const unsigned *groups;          /* supplementary groups */
    size_t group_count;

    /* Resource limits: the session's cgroups (cgroup.procs files opened for writing,
     * close-on-exec) that the child joins before anything else; RLIMIT_NOFILE. */
    const int *cgroup_fds;
    size_t cgroup_fd_count;
    long long nofile;                /* < 0: inherited */

    /* The terminal: when set, the session gets a pseudo-terminal from its own
     * devpts; stdin and stdout (and stderr when stderr_terminal) of the command are
     * its slave, and csb_run relays between it and this process's 0/1. */
    int terminal;
    int stderr_terminal;
    /* csb_run only, without a terminal: >= 0 makes the command's stdout and stderr
     * this fd and its stdin /dev/null (a build step's log); -1 keeps this process's 0-2. */
    int output_fd;
    unsigned short rows, columns;    /* initial window size */
    /* After SIGTERM or SIGHUP reaches this process, the session gets this long to
     * end before its init is killed (and with it every process of the session). */
    int stop_timeout_ms;

    /* csb_run only: once the session is complete (its root pivoted, its terminal
     * open), this file is written atomically (through `<path>.tmp`) with the init's
     * pid and start time as `pid=N\nstart=TICKS\n`, followed by `init_record_extra`
     * when set; it is removed when the session ends, before the init is reaped, so
     * it never names a recycled pid. NULL: no record (the session cannot be joined). */
    const char *init_record;
    const char *init_record_extra;

    /* >= 0: once the command's execve has succeeded, one byte ('s') is written to
     * this fd (the caller's, left open), so that a supervisor can tell "started"
     * from "could not start" before the command ends. Nothing is written when the
     * session or the command fails to start. -1: nothing. */
    int started_fd;
};

enum csb_result_kind {
    CSB_EXITED = 1,        /* code = exit status */
    CSB_SIGNALED = 2,      /* code = signal number */
    CSB_SETUP_FAILED = 3,  /* step, error, index describe the failure */
    CSB_EXEC_FAILED = 4,   /* execve of argv[0] failed with error */
};

/* Steps of the session setup, in the order they run. */
enum csb_step {
    CSB_STEP_PIPE = 1,
    CSB_STEP_CLONE,
    CSB_STEP_MAKE_PRIVATE,
    CSB_STEP_OVERLAY_OPEN,
    CSB_STEP_OVERLAY_LOWER,      /* index = lower dir */
    CSB_STEP_OVERLAY_UPPER,
    CSB_STEP_OVERLAY_WORK,
    CSB_STEP_OVERLAY_CREATE,
    CSB_STEP_OVERLAY_MOUNT,
    CSB_STEP_OVERLAY_LEGACY,
    CSB_STEP_OPEN_ROOT,
    CSB_STEP_MOUNT_POINT,        /* index = CSB_BUILTIN_* or CSB_SPEC_MOUNT_BASE + spec mount */
    CSB_STEP_MOUNT_PROC,
    CSB_STEP_MOUNT_DEV,
    CSB_STEP_DEV_NODE,           /* index = device in csb_device_names */
    CSB_STEP_MOUNT_DEVPTS,
    CSB_STEP_MOUNT_SHM,
    CSB_STEP_DEV_SYMLINK,
    CSB_STEP_MOUNT_SYS,
    CSB_STEP_PROTECT_PATH,       /* index = entry of the masked/read-only path table */
    CSB_STEP_MOUNT_TMP,
    CSB_STEP_MOUNT_SOURCE,       /* index = spec mount */
    CSB_STEP_MOUNT,              /* index = spec mount */
    CSB_STEP_MOUNT_READONLY,     /* index = spec mount */
    CSB_STEP_HOSTNAME,
    CSB_STEP_LOOPBACK,
    CSB_STEP_PIVOT_ROOT,
    CSB_STEP_DETACH_OLD_ROOT,
    CSB_STEP_WORKING_DIRECTORY,
    CSB_STEP_CGROUP,             /* index = cgroup fd */
    CSB_STEP_READONLY_ROOT,
    CSB_STEP_TERMINAL,
    CSB_STEP_NOFILE,
    CSB_STEP_USER,
    CSB_STEP_CAPABILITIES,
    CSB_STEP_NO_NEW_PRIVILEGES,
    CSB_STEP_SECCOMP,
    CSB_STEP_INIT,
    CSB_STEP_EXEC,
    CSB_STEP_WAIT,
    /* csb_join only. */
    CSB_STEP_JOIN,               /* setns(2) into the init's namespaces */
    CSB_STEP_JOIN_START,         /* fork the command inside the session's PID namespace */
};

enum csb_builtin_target {
    CSB_BUILTIN_PROC = 0,
    CSB_BUILTIN_DEV = 1,
    CSB_BUILTIN_SYS = 2,
    CSB_BUILTIN_TMP = 3,
    CSB_SPEC_MOUNT_BASE = 16,
};

/* Errors the runtime reports that have no errno of their own. */
enum csb_error {
    CSB_ERR_SYMLINK = 100001,          /* a path component inside the root is a symlink */
    CSB_ERR_DOTDOT = 100002,           /* a path inside the root contains ".." */
    CSB_ERR_OPTIONS_TOO_LONG = 100003, /* no fsopen(2), and the legacy options exceed a page */
    CSB_ERR_OUTSIDE_ROOT = 100004,     /* the working directory is not inside the root */
    CSB_ERR_NO_REPORT = 100005,        /* the init ended without reporting the command's end */
    CSB_ERR_NOT_DEVPTS = 100006,       /* /dev/pts/ptmx is not on the session's devpts */
};

struct csb_result {
    int kind;   /* enum csb_result_kind */
    int code;   /* exit code or signal number */
    int step;   /* enum csb_step, for failures */
    int error;  /* errno or enum csb_error, for failures */
    int index;  /* which layer/mount/device, for failures */
};

/*
 * Runs the session described by `spec` and waits for it. While waiting,
 * SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and (without a terminal)
 * SIGWINCH received by this process are forwarded to the session's init
 * (which forwards them to the command); the previous handlers are restored
 * when the last concurrent run ends. Thread-safe. With a terminal, the outer
 * terminal (fd 0) is put in raw mode and restored before this returns.
 * Always fills `result`; returns 0 when the command ran (exited or signaled),
 * -1 otherwise.
 */
int csb_run(const struct csb_spec *spec, struct csb_result *result);

/*
 * Runs `spec->argv` as one more command of the running session whose init
 * `init_pidfd` (pidfd_open(2)) refers to, as `docker exec` does: a forked joiner
 * joins the session's cgroups (`spec->cgroup_fds`), setns(2)s into its cgroup,
 * IPC, UTS, network, PID and mount namespaces, enters `working_directory`,
 * opens a terminal on the session's devpts when `spec->terminal`, and forks the
 * command, confined exactly as a first command is (same spec fields). The
 * joiner forwards signals to it and reports its end; the command dies with
 * the joiner. The overlay, mount, hostname and init_record fields are unused.
 * Signals, the terminal relay, the stop timeout and `result` are as for csb_run.
 */
int csb_join(const struct csb_spec *spec, int init_pidfd, struct csb_result *result);

/* pidfd_open(2): a close-on-exec fd that keeps naming process `pid`, or -1 (errno set). */
int csb_pidfd_open(int pid);

/* Process `pid`'s start time (field 22 of /proc/PID/stat, clock ticks after boot),
 * or -1 when there is no such process. With the pid, it names one process for good. */
long long csb_process_start_time(int pid);

/* A short, stable name for a step ("overlay lowerdir", "mount proc", …). */
const char *csb_step_name(int step);

/* The path a failed step was working on, taken from `spec` (never NULL). */
const char *csb_step_path(const struct csb_spec *spec, int step, int index);

/* Raises every capability this process holds into its ambient set (and so its
 * inheritable one), so that the programs it runs keep them although its uid is
 * not 0: what a rootless strata's own runner and strata-fetch need inside
 * strata's user namespace. Returns 0, or -1 with errno set. */
int csb_keep_capabilities_across_exec(void);

/* Joins the user namespace of process `pid` (a rootless user's namespace keeper),
 * provided its start time is still `start_time`. Single-threaded callers only
 * (setns(2) refuses CLONE_NEWUSER otherwise). Returns 0, or -1 with errno set
 * (ESRCH: the keeper is gone). */
int csb_join_user_namespace(int pid, long long start_time);

/* Forks the process that keeps this process's user namespace alive for the
 * strata processes that join it later: it leaves the caller's session, closes
 * every descriptor and waits for a signal forever. Returns its pid, or -1. */
int csb_start_namespace_keeper(void);

/* Text for an errno or an enum csb_error value. */
const char *csb_error_text(int error);

#ifdef __cplusplus
}
#endif
#endif

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
    char *const *argv;              /* NULL-terminated, argv[0] non-empty */
    char *const *envp;              /* NULL-terminated KEY=VALUE; PATH is searched from here */
    const char *working_directory;  /* absolute, inside the session */
    const char *hostname;
    int isolate_network;
    const struct csb_mount *mounts;
    size_t mount_count;
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
    CSB_STEP_INIT,
    CSB_STEP_EXEC,
    CSB_STEP_WAIT,
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
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT received by this process are forwarded
 * to the session's init (which forwards them to the command); the previous
 * handlers are restored when the last concurrent run ends. Thread-safe.
 * Always fills `result`; returns 0 when the command ran (exited or signaled),
 * -1 otherwise.
 */
int csb_run(const struct csb_spec *spec, struct csb_result *result);

/* A short, stable name for a step ("overlay lowerdir", "mount proc", …). */
const char *csb_step_name(int step);

/* The path a failed step was working on, taken from `spec` (never NULL). */
const char *csb_step_path(const struct csb_spec *spec, int step, int index);

/* Text for an errno or an enum csb_error value. */
const char *csb_error_text(int error);

#ifdef __cplusplus
}
#endif
#endif

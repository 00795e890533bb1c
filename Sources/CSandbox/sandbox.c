/*
 * The parent side of a session: clone the init with fresh namespaces, forward
 * signals to it while waiting, and turn the report pipe into a csb_result.
 * Ordinary (non-async-signal-safe) C is fine here; only child.c runs between
 * clone and execve.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- signal forwarding ------------------------------------------------------ */

/* Several sessions may run at once (one per thread): the handler forwards to
 * every running init. Slots hold pids; 0 is free, -1 reserved. */
#define MAX_SESSIONS 256
static volatile sig_atomic_t session_pids[MAX_SESSIONS];
static pthread_mutex_t forward_lock = PTHREAD_MUTEX_INITIALIZER;
static int forward_users;
static const int parent_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
#define PARENT_SIGNAL_COUNT ((int)(sizeof parent_signals / sizeof parent_signals[0]))
static struct sigaction saved_actions[PARENT_SIGNAL_COUNT];

static void forward_to_sessions(int sig) {
    int saved_errno = errno;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        pid_t pid = (pid_t)session_pids[i];
        if (pid > 0) (void)kill(pid, sig);
    }
    errno = saved_errno;
}

/* Reserves a slot (-1 until the pid is known) and installs the handlers for
 * the first session. Returns the slot, or -1 when all are taken (that session
 * then gets no forwarding). */
static int forward_begin(void) {
    pthread_mutex_lock(&forward_lock);
    int slot = -1;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (session_pids[i] == 0) { session_pids[i] = -1; slot = i; break; }
    }
    if (forward_users++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = forward_to_sessions;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        for (int i = 0; i < PARENT_SIGNAL_COUNT; i++) (void)sigaction(parent_signals[i], &sa, &saved_actions[i]);
    }
    pthread_mutex_unlock(&forward_lock);
    return slot;
}

static void forward_end(int slot) {
    pthread_mutex_lock(&forward_lock);
    if (slot >= 0) session_pids[slot] = 0;
    if (--forward_users == 0) {
        for (int i = 0; i < PARENT_SIGNAL_COUNT; i++) (void)sigaction(parent_signals[i], &saved_actions[i], NULL);
    }
    pthread_mutex_unlock(&forward_lock);
}

/* ---- run ------------------------------------------------------------------------ */

static int failed(struct csb_result *result, int kind, int step, int error, int index) {
    result->kind = kind;
    result->code = 0;
    result->step = step;
    result->error = error;
    result->index = index;
    return -1;
}

int csb_run(const struct csb_spec *spec, struct csb_result *result) {
    memset(result, 0, sizeof *result);
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) return failed(result, CSB_SETUP_FAILED, CSB_STEP_PIPE, errno, 0);

    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWCGROUP;
    if (spec->isolate_network) flags |= CLONE_NEWNET;

    /* The child starts with every signal blocked, so no Swift-installed
     * handler can run in it before it resets them; the init later takes its
     * signals with sigwaitinfo. The handlers go in before the clone so a
     * Ctrl-C during setup is not lost for good. */
    int slot = forward_begin();
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        close(report[0]);
        csb_child_main(spec, report[1]);
    }
    int clone_errno = errno;
    if (pid > 0 && slot >= 0) session_pids[slot] = (sig_atomic_t)pid;
    /* While waiting, the forwarded signals must reach this thread even if the
     * caller inherited them blocked (a supervisor's posix_spawn mask, say):
     * otherwise a SIGTERM to strata would never reach the session. */
    sigset_t waiting = old;
    for (int i = 0; i < PARENT_SIGNAL_COUNT; i++) sigdelset(&waiting, parent_signals[i]);
    pthread_sigmask(SIG_SETMASK, &waiting, NULL);
    close(report[1]);
    if (pid < 0) {
        close(report[0]);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        forward_end(slot);
        return failed(result, CSB_SETUP_FAILED, CSB_STEP_CLONE, clone_errno, 0);
    }

    /* The first failure wins; the init's final report comes last. */
    int have_failure = 0, have_end = 0;
    struct csb_message first_failure = {0, 0, 0, 0}, end = {0, 0, 0, 0};
    for (;;) {
        struct csb_message m;
        ssize_t n = read(report[0], &m, sizeof m);
        if (n < 0 && errno == EINTR) continue;
        if (n != (ssize_t)sizeof m) break;
        if ((m.kind == CSB_MSG_SETUP_FAILED || m.kind == CSB_MSG_EXEC_FAILED) && !have_failure) {
            first_failure = m;
            have_failure = 1;
        } else if (m.kind == CSB_MSG_EXITED || m.kind == CSB_MSG_SIGNALED) {
            end = m;
            have_end = 1;
        }
    }
    close(report[0]);

    /* Forwarding stops before the reap, so a recycled pid never gets a signal. */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    forward_end(slot);
    int status = 0;
    pid_t waited;
    do {
        waited = waitpid((pid_t)pid, &status, __WALL);
    } while (waited < 0 && errno == EINTR);

    if (have_failure) {
        int kind = first_failure.kind == CSB_MSG_EXEC_FAILED ? CSB_EXEC_FAILED : CSB_SETUP_FAILED;
        return failed(result, kind, first_failure.step, first_failure.error, first_failure.index);
    }
    if (have_end) {
        result->kind = end.kind == CSB_MSG_SIGNALED ? CSB_SIGNALED : CSB_EXITED;
        result->code = end.error;
        return 0;
    }
    if (waited > 0 && WIFSIGNALED(status)) {
        /* The init itself was killed (SIGKILL from outside): so was the command. */
        result->kind = CSB_SIGNALED;
        result->code = WTERMSIG(status);
        return 0;
    }
    return failed(result, CSB_SETUP_FAILED, CSB_STEP_WAIT, CSB_ERR_NO_REPORT, 0);
}

/* ---- naming failures ------------------------------------------------------------- */

const char *csb_step_name(int step) {
    switch (step) {
    case CSB_STEP_PIPE: return "create report pipe";
    case CSB_STEP_CLONE: return "clone namespaces";
    case CSB_STEP_MAKE_PRIVATE: return "make mounts private";
    case CSB_STEP_OVERLAY_OPEN: return "overlay fsopen";
    case CSB_STEP_OVERLAY_LOWER: return "overlay lowerdir";
    case CSB_STEP_OVERLAY_UPPER: return "overlay upperdir";
    case CSB_STEP_OVERLAY_WORK: return "overlay workdir";
    case CSB_STEP_OVERLAY_CREATE: return "overlay create";
    case CSB_STEP_OVERLAY_MOUNT: return "overlay mount";
    case CSB_STEP_OVERLAY_LEGACY: return "overlay legacy mount";
    case CSB_STEP_OPEN_ROOT: return "open root";
    case CSB_STEP_MOUNT_POINT: return "mount point";
    case CSB_STEP_MOUNT_PROC: return "mount proc";
    case CSB_STEP_MOUNT_DEV: return "mount dev";
    case CSB_STEP_DEV_NODE: return "bind device";
    case CSB_STEP_MOUNT_DEVPTS: return "mount devpts";
    case CSB_STEP_MOUNT_SHM: return "mount shm";
    case CSB_STEP_DEV_SYMLINK: return "dev symlink";
    case CSB_STEP_MOUNT_SYS: return "mount sysfs";
    case CSB_STEP_PROTECT_PATH: return "mask path";
    case CSB_STEP_MOUNT_TMP: return "mount tmp";
    case CSB_STEP_MOUNT_SOURCE: return "open mount source";
    case CSB_STEP_MOUNT: return "mount";
    case CSB_STEP_MOUNT_READONLY: return "make mount read-only";
    case CSB_STEP_HOSTNAME: return "set hostname";
    case CSB_STEP_LOOPBACK: return "bring up loopback";
    case CSB_STEP_PIVOT_ROOT: return "pivot_root";
    case CSB_STEP_DETACH_OLD_ROOT: return "detach old root";
    case CSB_STEP_WORKING_DIRECTORY: return "working directory";
    case CSB_STEP_INIT: return "start init";
    case CSB_STEP_EXEC: return "execve";
    case CSB_STEP_WAIT: return "wait for session";
    default: return "unknown step";
    }
}

static const char *const dev_symlink_paths[] = {"/dev/ptmx", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr"};
static const char *const dev_node_paths[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"};

const char *csb_step_path(const struct csb_spec *spec, int step, int index) {
    switch (step) {
    case CSB_STEP_MAKE_PRIVATE: case CSB_STEP_PIVOT_ROOT: case CSB_STEP_DETACH_OLD_ROOT: return "/";
    case CSB_STEP_OVERLAY_LOWER:
        return index >= 0 && (size_t)index < spec->lower_count ? spec->lower_dirs[index] : "";
    case CSB_STEP_OVERLAY_UPPER: return spec->upper_dir;
    case CSB_STEP_OVERLAY_WORK: return spec->work_dir;
    case CSB_STEP_OVERLAY_OPEN: case CSB_STEP_OVERLAY_CREATE: case CSB_STEP_OVERLAY_MOUNT:
    case CSB_STEP_OVERLAY_LEGACY: case CSB_STEP_OPEN_ROOT:
        return spec->root_dir;
    case CSB_STEP_MOUNT_POINT:
        switch (index) {
        case CSB_BUILTIN_PROC: return "/proc";
        case CSB_BUILTIN_DEV: return "/dev";
        case CSB_BUILTIN_SYS: return "/sys";
        case CSB_BUILTIN_TMP: return "/tmp";
        default: {
            int i = index - CSB_SPEC_MOUNT_BASE;
            return i >= 0 && (size_t)i < spec->mount_count ? spec->mounts[i].target : "";
        }
        }
    case CSB_STEP_MOUNT_PROC: return "/proc";
    case CSB_STEP_MOUNT_DEV: return "/dev";
    case CSB_STEP_DEV_NODE: return index >= 0 && index < csb_device_count ? dev_node_paths[index] : "/dev";
    case CSB_STEP_MOUNT_DEVPTS: return "/dev/pts";
    case CSB_STEP_MOUNT_SHM: return "/dev/shm";
    case CSB_STEP_DEV_SYMLINK: return index >= 0 && index < 5 ? dev_symlink_paths[index] : "/dev";
    case CSB_STEP_MOUNT_SYS: return "/sys";
    case CSB_STEP_PROTECT_PATH:
        return index >= 0 && index < csb_protected_count ? csb_protected_paths[index].full : "/proc";
    case CSB_STEP_MOUNT_TMP: return "/tmp";
    case CSB_STEP_MOUNT_SOURCE: {
        const char *source = index >= 0 && (size_t)index < spec->mount_count ? spec->mounts[index].source : NULL;
        return source != NULL ? source : "";
    }
    case CSB_STEP_MOUNT: case CSB_STEP_MOUNT_READONLY:
        return index >= 0 && (size_t)index < spec->mount_count ? spec->mounts[index].target : "";
    case CSB_STEP_HOSTNAME: return spec->hostname;
    case CSB_STEP_LOOPBACK: return "lo";
    case CSB_STEP_WORKING_DIRECTORY: return spec->working_directory;
    case CSB_STEP_EXEC: return spec->argv[0];
    default: return "";
    }
}

const char *csb_error_text(int error) {
    switch (error) {
    case CSB_ERR_SYMLINK: return "is a symlink (refusing to follow it inside the session root)";
    case CSB_ERR_DOTDOT: return "contains \"..\"";
    case CSB_ERR_OPTIONS_TOO_LONG:
        return "the kernel lacks fsopen(2) and the overlay options exceed one page, which mount(2) would silently truncate";
    case CSB_ERR_OUTSIDE_ROOT: return "is not inside the session root";
    case CSB_ERR_NO_REPORT: return "the session's init ended without reporting how the command ended";
    default: {
        const char *text = strerrordesc_np(error);
        return text != NULL ? text : "unknown error";
    }
    }
}

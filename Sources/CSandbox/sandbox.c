/*
 * The parent side of a session: clone the init with fresh namespaces (or fork
 * a joiner into a running session), forward signals to it while waiting, and
 * turn the report pipe into a csb_result. Ordinary (non-async-signal-safe) C is
 * fine here; only child.c, join.c and command.c run between clone and execve.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- signal forwarding ------------------------------------------------------ */

/* Several sessions may run at once (one per thread): the handler forwards to
 * every running init and wakes each waiting thread through its own pipe
 * (a process-directed signal may land on any thread). pid 0 is a free slot,
 * -1 a reserved one. */
#define MAX_SESSIONS 256
struct forward_slot {
    volatile sig_atomic_t pid;
    volatile sig_atomic_t wake_fd;  /* write end of the waiter's pipe, or -1 */
    volatile sig_atomic_t terminal; /* SIGWINCH is the waiter's business, not the command's */
};
static struct forward_slot slots[MAX_SESSIONS];
static pthread_mutex_t forward_lock = PTHREAD_MUTEX_INITIALIZER;
static int forward_users;
static const int parent_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define PARENT_SIGNAL_COUNT ((int)(sizeof parent_signals / sizeof parent_signals[0]))
static struct sigaction saved_actions[PARENT_SIGNAL_COUNT];

static void forward_to_sessions(int sig) {
    int saved_errno = errno;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        pid_t pid = (pid_t)slots[i].pid;
        if (pid == 0) continue;
        int wake = (int)slots[i].wake_fd;
        if (wake >= 0 && (sig == SIGTERM || sig == SIGHUP || sig == SIGWINCH)) {
            unsigned char byte = (unsigned char)sig;
            (void)write(wake, &byte, 1);
        }
        if (pid > 0 && !(sig == SIGWINCH && slots[i].terminal)) (void)kill(pid, sig);
    }
    errno = saved_errno;
}

/* Reserves a slot (-1 until the pid is known) and installs the handlers for
 * the first session. Returns the slot, or -1 when all are taken (that session
 * then gets no forwarding). */
static int forward_begin(int wake_fd, int terminal) {
    pthread_mutex_lock(&forward_lock);
    int slot = -1;
    for (int i = 0; i < MAX_SESSIONS; i++) {
        if (slots[i].pid == 0) {
            slots[i].wake_fd = wake_fd;
            slots[i].terminal = terminal;
            slots[i].pid = -1;
            slot = i;
            break;
        }
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
    if (slot >= 0) {
        slots[slot].wake_fd = -1;
        slots[slot].pid = 0;
    }
    if (--forward_users == 0) {
        for (int i = 0; i < PARENT_SIGNAL_COUNT; i++) (void)sigaction(parent_signals[i], &saved_actions[i], NULL);
    }
    pthread_mutex_unlock(&forward_lock);
}

/* ---- the terminal relay ------------------------------------------------------ */

/* Receives the pty master the init sends (SCM_RIGHTS); -1 when the socket
 * closed without one (the setup failed: the report pipe says why). */
static int receive_master(int socket_fd) {
    char byte;
    struct iovec iov = {&byte, 1};
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    ssize_t n;
    do {
        n = recvmsg(socket_fd, &message, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return -1;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&message); h != NULL; h = CMSG_NXTHDR(&message, h)) {
        if (h->cmsg_level == SOL_SOCKET && h->cmsg_type == SCM_RIGHTS) {
            int fd;
            memcpy(&fd, CMSG_DATA(h), sizeof fd);
            return fd;
        }
    }
    return -1;
}

static int write_all(int fd, const char *data, size_t length) {
    while (length > 0) {
        ssize_t n = write(fd, data, length);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            struct pollfd p = {fd, POLLOUT, 0};
            (void)poll(&p, 1, -1);
            continue;
        }
        if (n <= 0) return -1;
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Copies what the session wrote to its terminal to our stdout; returns 0 at
 * EOF/EIO (every slave closed), 1 while it stays open. */
static int relay_output(int master) {
    char buffer[65536];
    for (;;) {
        ssize_t n = read(master, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return 1;
        if (n <= 0) return 0;
        if (write_all(1, buffer, (size_t)n) < 0) return 0;
        if ((size_t)n < sizeof buffer) return 1;
    }
}

/* ---- the init record ---------------------------------------------------------- */

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int csb_pidfd_open(int pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }

long long csb_process_start_time(int pid) {
    char path[64], buffer[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buffer, sizeof buffer - 1);
    close(fd);
    if (n <= 0) return -1;
    buffer[n] = '\0';
    /* The command name (field 2) may hold spaces and parentheses: count from the last ')'. */
    char *p = strrchr(buffer, ')');
    if (p == NULL) return -1;
    p++;
    for (int field = 2; field < 22 && p != NULL; field++) p = strchr(p + 1, ' ');
    if (p == NULL) return -1;
    char *end;
    long long ticks = strtoll(p + 1, &end, 10);
    return end == p + 1 ? -1 : ticks;
}

/* Writes spec->init_record for the init `pid`; 0 on success. */
static int write_init_record(const struct csb_spec *spec, long pid) {
    long long start = csb_process_start_time((int)pid);
    if (start < 0) return -1;
    char temporary[4096];
    if (snprintf(temporary, sizeof temporary, "%s.tmp", spec->init_record) >= (int)sizeof temporary) return -1;
    int fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return -1;
    int ok = dprintf(fd, "pid=%ld\nstart=%lld\n%s", pid, start,
                     spec->init_record_extra != NULL ? spec->init_record_extra : "") > 0;
    ok = close(fd) == 0 && ok;
    if (!ok || rename(temporary, spec->init_record) < 0) {
        (void)unlink(temporary);
        return -1;
    }
    return 0;
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

static long long now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void close_pair(int fds[2]) {
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    fds[0] = fds[1] = -1;
}

/* A new session (init_pidfd < 0), or a command joining the session of init_pidfd. */
static int supervise(const struct csb_spec *spec, int init_pidfd, struct csb_result *result) {
    int joining = init_pidfd >= 0;
    memset(result, 0, sizeof *result);
    int report[2] = {-1, -1}, wake[2] = {-1, -1}, console[2] = {-1, -1};
    if (pipe2(report, O_CLOEXEC) < 0) return failed(result, CSB_SETUP_FAILED, CSB_STEP_PIPE, errno, 0);
    if (pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = errno;
        close_pair(report);
        return failed(result, CSB_SETUP_FAILED, CSB_STEP_PIPE, e, 0);
    }
    struct winsize window;
    memset(&window, 0, sizeof window);
    struct termios saved_mode;
    /* The caller decides from its request's terminal; raw mode below is only set when fd 0 is one. */
    int terminal = spec->terminal;
    if (terminal) {
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, console) < 0) {
            int e = errno;
            close_pair(report);
            close_pair(wake);
            return failed(result, CSB_SETUP_FAILED, CSB_STEP_TERMINAL, e, 0);
        }
        (void)ioctl(0, TIOCGWINSZ, &window);
    }

    /* Without cgroups to join first, the cgroup namespace comes with the clone. */
    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    if (spec->cgroup_fd_count == 0) flags |= CLONE_NEWCGROUP;
    if (spec->isolate_network) flags |= CLONE_NEWNET;
    /* A joiner enters the session's namespaces with setns(2) instead. */
    if (joining) flags = 0;

    /* The child starts with every signal blocked, so no Swift-installed
     * handler can run in it before it resets them; the init later takes its
     * signals with sigwaitinfo. The handlers go in before the clone so a
     * Ctrl-C during setup is not lost for good. */
    int slot = forward_begin(wake[1], terminal);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) {
        close(report[0]);
        if (console[0] >= 0) close(console[0]);
        if (joining) csb_join_main(spec, init_pidfd, report[1], console[1], terminal ? &window : NULL);
        csb_child_main(spec, report[1], console[1], terminal ? &window : NULL);
    }
    int clone_errno = errno;
    if (pid > 0 && slot >= 0) slots[slot].pid = (sig_atomic_t)pid;
    /* While waiting, the forwarded signals must reach this thread even if the
     * caller inherited them blocked (a supervisor's posix_spawn mask, say):
     * otherwise a SIGTERM to strata would never reach the session. */
    sigset_t waiting = old;
    for (int i = 0; i < PARENT_SIGNAL_COUNT; i++) sigdelset(&waiting, parent_signals[i]);
    pthread_sigmask(SIG_SETMASK, &waiting, NULL);
    close(report[1]);
    report[1] = -1;
    if (console[1] >= 0) { close(console[1]); console[1] = -1; }
    if (pid < 0) {
        close_pair(report);
        close_pair(console);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        forward_end(slot);
        close_pair(wake);
        return failed(result, CSB_SETUP_FAILED, CSB_STEP_CLONE, clone_errno, 0);
    }

    /* The first failure wins; the init's final report comes last. */
    int have_failure = 0, have_end = 0, recorded = 0;
    struct csb_message first_failure = {0, 0, 0, 0}, end = {0, 0, 0, 0};
    int master = -1, stdin_open = terminal, raw = 0;
    long long kill_at = -1;
    char pending[4096];
    size_t pending_length = 0;
    for (;;) {
        struct pollfd fds[5];
        int count = 0, at_report = -1, at_wake = -1, at_console = -1, at_stdin = -1, at_master = -1;
        fds[count] = (struct pollfd){report[0], POLLIN, 0}; at_report = count++;
        fds[count] = (struct pollfd){wake[0], POLLIN, 0}; at_wake = count++;
        if (console[0] >= 0) { fds[count] = (struct pollfd){console[0], POLLIN, 0}; at_console = count++; }
        if (master >= 0) {
            short events = POLLIN | (pending_length > 0 ? POLLOUT : 0);
            fds[count] = (struct pollfd){master, events, 0}; at_master = count++;
            if (stdin_open && pending_length == 0) { fds[count] = (struct pollfd){0, POLLIN, 0}; at_stdin = count++; }
        }
        int timeout = -1;
        if (kill_at >= 0) {
            long long left = kill_at - now_ms();
            timeout = left > 0 ? (int)left : 0;
        }
        int ready = poll(fds, (nfds_t)count, timeout);
        if (ready < 0 && errno != EINTR) break;
        if (kill_at >= 0 && now_ms() >= kill_at) {
            /* The grace period is over: the init takes every process of the session with it. */
            (void)kill((pid_t)pid, SIGKILL);
            kill_at = -2;
        }
        if (ready <= 0) continue;
        if (fds[at_wake].revents & POLLIN) {
            unsigned char signals[64];
            ssize_t n = read(wake[0], signals, sizeof signals);
            for (ssize_t i = 0; i < n; i++) {
                if ((signals[i] == SIGTERM || signals[i] == SIGHUP) && kill_at == -1)
                    kill_at = now_ms() + (spec->stop_timeout_ms > 0 ? spec->stop_timeout_ms : 0);
                if (signals[i] == SIGWINCH && master >= 0 && ioctl(0, TIOCGWINSZ, &window) == 0)
                    (void)ioctl(master, TIOCSWINSZ, &window);
            }
        }
        if (at_console >= 0 && fds[at_console].revents) {
            master = receive_master(console[0]);
            close_pair(console);
            if (master >= 0) {
                (void)fcntl(master, F_SETFL, fcntl(master, F_GETFL) | O_NONBLOCK);
                /* Raw: every key (Ctrl-C, Ctrl-Z included) goes to the session's terminal. */
                if (tcgetattr(0, &saved_mode) == 0) {
                    struct termios mode = saved_mode;
                    cfmakeraw(&mode);
                    if (tcsetattr(0, TCSADRAIN, &mode) == 0) raw = 1;
                }
            }
        }
        if (at_master >= 0 && fds[at_master].revents) {
            if ((fds[at_master].revents & POLLOUT) && pending_length > 0) {
                ssize_t n = write(master, pending, pending_length);
                if (n > 0) {
                    memmove(pending, pending + n, pending_length - (size_t)n);
                    pending_length -= (size_t)n;
                }
            }
            if ((fds[at_master].revents & (POLLIN | POLLHUP | POLLERR)) && !relay_output(master)) {
                /* Every slave is closed: the session is ending; the report pipe will say how. */
                close(master);
                master = -1;
            }
        }
        if (at_stdin >= 0 && fds[at_stdin].revents) {
            ssize_t n = read(0, pending, sizeof pending);
            if (n > 0) pending_length = (size_t)n;
            else if (n == 0 || (errno != EINTR && errno != EAGAIN)) stdin_open = 0;
        }
        if (fds[at_report].revents) {
            struct csb_message m;
            ssize_t n = read(report[0], &m, sizeof m);
            if (n < 0 && errno == EINTR) continue;
            if (n != (ssize_t)sizeof m) break;
            if (m.kind == CSB_MSG_STARTED) {
                if (spec->started_fd >= 0 && !have_failure) {
                    while (write(spec->started_fd, "s", 1) < 0 && errno == EINTR) {}
                }
            } else if (m.kind == CSB_MSG_READY) {
                /* Without a record the session runs the same; it only cannot be joined. */
                if (!joining && spec->init_record != NULL && !recorded) recorded = write_init_record(spec, pid) == 0;
            } else if ((m.kind == CSB_MSG_SETUP_FAILED || m.kind == CSB_MSG_EXEC_FAILED) && !have_failure) {
                first_failure = m;
                have_failure = 1;
            } else if (m.kind == CSB_MSG_EXITED || m.kind == CSB_MSG_SIGNALED) {
                end = m;
                have_end = 1;
            }
        }
    }
    close_pair(report);
    close_pair(console);

    /* The record goes before the reap, so it never names a recycled pid. */
    if (recorded) (void)unlink(spec->init_record);
    /* Forwarding stops before the reap, so a recycled pid never gets a signal. */
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    forward_end(slot);
    close_pair(wake);
    int status = 0;
    pid_t waited;
    do {
        waited = waitpid((pid_t)pid, &status, __WALL);
    } while (waited < 0 && errno == EINTR);
    if (master >= 0) {
        /* The session is gone: what it wrote last is still in the terminal's buffer. */
        while (relay_output(master)) {}
        close(master);
    }
    if (raw) (void)tcsetattr(0, TCSADRAIN, &saved_mode);

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
        /* The init itself was killed (SIGKILL from outside, or after the grace period): so was the command. */
        result->kind = CSB_SIGNALED;
        result->code = WTERMSIG(status);
        return 0;
    }
    return failed(result, CSB_SETUP_FAILED, CSB_STEP_WAIT, CSB_ERR_NO_REPORT, 0);
}

int csb_run(const struct csb_spec *spec, struct csb_result *result) { return supervise(spec, -1, result); }

int csb_join(const struct csb_spec *spec, int init_pidfd, struct csb_result *result) {
    if (init_pidfd < 0) {
        memset(result, 0, sizeof *result);
        return failed(result, CSB_SETUP_FAILED, CSB_STEP_JOIN, EBADF, 0);
    }
    return supervise(spec, init_pidfd, result);
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
    case CSB_STEP_CGROUP: return "join cgroup";
    case CSB_STEP_READONLY_ROOT: return "make root read-only";
    case CSB_STEP_TERMINAL: return "terminal";
    case CSB_STEP_NOFILE: return "set nofile limit";
    case CSB_STEP_USER: return "set user and groups";
    case CSB_STEP_CAPABILITIES: return "drop capabilities";
    case CSB_STEP_NO_NEW_PRIVILEGES: return "set no_new_privs";
    case CSB_STEP_SECCOMP: return "load seccomp filter";
    case CSB_STEP_INIT: return "start init";
    case CSB_STEP_EXEC: return "execve";
    case CSB_STEP_WAIT: return "wait for session";
    case CSB_STEP_JOIN: return "join the session's namespaces";
    case CSB_STEP_JOIN_START: return "start the command in the session";
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
    case CSB_STEP_READONLY_ROOT: return "/";
    case CSB_STEP_TERMINAL: return "/dev/pts/ptmx";
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
    case CSB_ERR_NOT_DEVPTS: return "is not the session's devpts pseudo-terminal multiplexer";
    default: {
        const char *text = strerrordesc_np(error);
        return text != NULL ? text : "unknown error";
    }
    }
}

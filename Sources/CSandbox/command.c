/*
 * The command's side of a session, shared by its first command (forked by
 * the init) and by commands joined later (`strata exec`): reporting, the
 * working directory, the terminal's slave, confinement and execve, and the
 * small waiter that forwards signals to the command and reports its end.
 * Everything here must be async-signal-safe: it runs in children of a
 * multithreaded process.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <termios.h>
#include <unistd.h>

#define CSB_CLOSE_RANGE_CLOEXEC (1u << 2)
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif

static const int forwarded_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH};
#define FORWARDED_COUNT ((int)(sizeof forwarded_signals / sizeof forwarded_signals[0]))

static const char *const default_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/* ---- reporting ---------------------------------------------------------- */

void csb_send_message(int fd, int kind, int step, int error, int index) {
    struct csb_message m = {kind, step, error, index};
    ssize_t n;
    do {
        n = write(fd, &m, sizeof m);
    } while (n < 0 && errno == EINTR);
}

__attribute__((noreturn)) void csb_fail(int fd, int step, int error, int index) {
    csb_send_message(fd, CSB_MSG_SETUP_FAILED, step, error, index);
    _exit(125);
}
/* ---- paths inside the root -------------------------------------------------- */

/*
 * Opens the directory `path` (absolute, inside the root) relative to
 * `root_fd`, one component at a time and never following a symlink, creating
 * missing directories (mode 0755). A symlink or a non-directory anywhere on
 * the way is refused, so a hostile image cannot redirect a mount to the host.
 * Returns an fd, or -error.
 */
int csb_open_dir_in_root(int root_fd, const char *path) {
    int dir = (int)fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
    if (dir < 0) return -errno;
    const char *p = path;
    for (;;) {
        while (*p == '/') p++;
        if (*p == '\0') return dir;
        char name[NAME_MAX + 1];
        size_t len = 0;
        while (p[len] != '\0' && p[len] != '/') len++;
        if (len > NAME_MAX) { close(dir); return -ENAMETOOLONG; }
        memcpy(name, p, len);
        name[len] = '\0';
        p += len;
        if (len == 1 && name[0] == '.') continue;
        if (len == 2 && name[0] == '.' && name[1] == '.') { close(dir); return -CSB_ERR_DOTDOT; }

        int next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT) {
            if (mkdirat(dir, name, 0755) < 0 && errno != EEXIST) { int e = errno; close(dir); return -e; }
            next = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        if (next < 0) {
            int e = errno;
            if (e == ENOTDIR || e == ELOOP) {
                /* Tell "is a symlink" apart from "is not a directory". */
                struct stat st;
                if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) e = CSB_ERR_SYMLINK;
                else e = ENOTDIR;
            }
            close(dir);
            return -e;
        }
        close(dir);
        dir = next;
    }
}

void csb_enter_working_directory(int fd, const char *path) {
    int root = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root < 0) csb_fail(fd, CSB_STEP_WORKING_DIRECTORY, errno, 0);
    int dir = csb_open_dir_in_root(root, path);
    if (dir < 0) csb_fail(fd, CSB_STEP_WORKING_DIRECTORY, -dir, 0);
    if (fchdir(dir) < 0) csb_fail(fd, CSB_STEP_WORKING_DIRECTORY, errno, 0);
    close(dir);
    close(root);
    /* The kernel answers with "(unreachable)" or ENOENT for a cwd outside the root. */
    char cwd[PATH_MAX];
    if (syscall(SYS_getcwd, cwd, sizeof cwd) < 0 || cwd[0] != '/')
        csb_fail(fd, CSB_STEP_WORKING_DIRECTORY, CSB_ERR_OUTSIDE_ROOT, 0);
}

/* ---- the command ----------------------------------------------------------- */

/* execve(argv[0]) searched in the session's PATH, like execvpe but async-signal-safe.
 * Returns the errno to report. */
static int exec_search(char *const argv[], char *const envp[]) {
    const char *file = argv[0];
    if (file[0] == '\0') return ENOENT;
    if (strchr(file, '/') != NULL) {
        execve(file, argv, envp);
        return errno;
    }
    const char *path = default_path;
    for (char *const *e = envp; *e != NULL; e++) {
        if (strncmp(*e, "PATH=", 5) == 0) { path = *e + 5; break; }
    }
    size_t file_len = strlen(file);
    int saw_eacces = 0;
    int last = ENOENT;
    const char *p = path;
    for (;;) {
        const char *end = strchrnul(p, ':');
        size_t dir_len = (size_t)(end - p);
        char candidate[PATH_MAX];
        if (dir_len + 1 + file_len + 1 > sizeof candidate) {
            last = ENAMETOOLONG;
        } else {
            /* An empty PATH entry means the working directory, as in POSIX. */
            size_t n = 0;
            if (dir_len == 0) candidate[n++] = '.';
            memcpy(candidate + n, p, dir_len);
            n += dir_len;
            candidate[n++] = '/';
            memcpy(candidate + n, file, file_len + 1);
            execve(candidate, argv, envp);
            switch (errno) {
            case EACCES: saw_eacces = 1; break;
            case ENOENT: case ENOTDIR: case ESTALE: case ENODEV: case ETIMEDOUT: break;
            default: return errno;
            }
        }
        if (*end == '\0') break;
        p = end + 1;
    }
    return saw_eacces ? EACCES : last;
}

void csb_reset_signals(void) {
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        (void)sigaction(sig, &dfl, NULL); /* fails harmlessly for SIGKILL, SIGSTOP and libc-internal signals */
    }
}

static void mark_fds_cloexec(void) {
    if (syscall(SYS_close_range, 3u, ~0u, CSB_CLOSE_RANGE_CLOEXEC) == 0) return;
    struct rlimit lim;
    int max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < 1048576)
        max = (int)lim.rlim_cur;
    for (int fd = 3; fd < max; fd++) (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
}

static void close_fds_except(int keep) {
    if (keep > 3) (void)syscall(SYS_close_range, 3u, (unsigned)keep - 1, 0u);
    if (syscall(SYS_close_range, (unsigned)keep + 1, ~0u, 0u) == 0) return;
    struct rlimit lim;
    int max = 65536;
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY && lim.rlim_cur < 1048576)
        max = (int)lim.rlim_cur;
    for (int fd = 3; fd < max; fd++) {
        if (fd != keep) (void)close(fd);
    }
}

/* ---- confinement ----------------------------------------------------------- */

static void load_seccomp(int fd, const struct csb_spec *spec) {
    struct sock_fprog program = {
        .len = (unsigned short)spec->seccomp_instructions,
        .filter = (struct sock_filter *)spec->seccomp_program,
    };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &program) < 0) csb_fail(fd, CSB_STEP_SECCOMP, errno, 0);
}

/*
 * The command's identity and privileges, in runc's order: bounding set,
 * ambient set, groups and ids (leaving uid 0 clears the permitted and
 * effective sets, as KEEPCAPS is off), then the remaining sets explicitly.
 * Inheritable stays empty (Docker since the fix for CVE-2022-24769), so
 * execve gives root exactly the bounding set and anyone else nothing beyond
 * what file capabilities grant within it.
 */
static void drop_privileges(int fd, const struct csb_spec *spec) {
    for (int cap = 0; cap <= spec->last_capability && cap < 64; cap++) {
        if (spec->capabilities & (1ULL << cap)) continue;
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL) csb_fail(fd, CSB_STEP_CAPABILITIES, errno, cap);
    }
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        csb_fail(fd, CSB_STEP_CAPABILITIES, errno, 0);
    /* With one id mapped, setgroups(2) is denied; there are no other groups to drop. */
    if (!spec->single_id_map && syscall(SYS_setgroups, spec->group_count, spec->groups) < 0) csb_fail(fd, CSB_STEP_USER, errno, 0);
    if (syscall(SYS_setresgid, spec->gid, spec->gid, spec->gid) < 0) csb_fail(fd, CSB_STEP_USER, errno, 0);
    if (syscall(SYS_setresuid, spec->uid, spec->uid, spec->uid) < 0) csb_fail(fd, CSB_STEP_USER, errno, 0);

    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof data);
    if (spec->uid == 0) {
        data[0].effective = data[0].permitted = (unsigned)(spec->capabilities & 0xffffffffu);
        data[1].effective = data[1].permitted = (unsigned)(spec->capabilities >> 32);
    }
    if (syscall(SYS_capset, &header, data) < 0) csb_fail(fd, CSB_STEP_CAPABILITIES, errno, 0);
}

/* The command's end of the terminal: a new session with the pty slave as its
 * controlling terminal and standard streams. The slave comes from the master
 * (TIOCGPTPEER), not from a path the session could have replaced. */
static void attach_terminal(int fd, const struct csb_spec *spec, int master) {
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (ioctl(slave, TIOCSCTTY, 0) < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (spec->uid != 0 && fchown(slave, spec->uid, (gid_t)-1) < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (dup2(slave, 0) < 0 || dup2(slave, 1) < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (spec->stderr_terminal && dup2(slave, 2) < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (slave > 2) close(slave);
    close(master);
}

long csb_start_command(const struct csb_spec *spec, int fd, int master, int joined) {
    int step = joined ? CSB_STEP_JOIN_START : CSB_STEP_INIT;
    /* Its write end closes at the command's execve (O_CLOEXEC) or when the command
     * exits: the read below returns then, after any EXEC_FAILED it sent. */
    int started[2];
    if (pipe2(started, O_CLOEXEC) < 0) csb_fail(fd, step, errno, 0);
    long command = syscall(SYS_clone, (unsigned long)SIGCHLD, 0, 0, 0, 0);
    if (command < 0) csb_fail(fd, step, errno, 0);
    if (command == 0) {
        close(started[0]);
        csb_exec_command(spec, fd, master, joined);
    }
    close(started[1]);
    char byte;
    while (read(started[0], &byte, 1) < 0 && errno == EINTR) {}
    close(started[0]);
    csb_send_message(fd, CSB_MSG_STARTED, 0, 0, 0);
    return command;
}

void csb_exec_command(const struct csb_spec *spec, int fd, int master, int joined) {
    /* A joined command's parent is the joiner, outside the session's PID
     * namespace: when strata (and so the joiner) dies, the command must too, as
     * a first command dies with its init. getppid() is 0 while that parent
     * lives, because it is outside our PID namespace. */
    if (joined && prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) csb_fail(fd, CSB_STEP_JOIN_START, errno, 0);
    if (joined && getppid() != 0) csb_fail(fd, CSB_STEP_JOIN_START, ESRCH, 0);
    csb_reset_signals();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* A session of its own: the outer terminal is no longer the controlling
     * terminal, so TIOCSTI and job-control signals cannot reach it. */
    if (setsid() < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (master >= 0) attach_terminal(fd, spec, master);
    if (spec->nofile >= 0) {
        struct rlimit limit = {(rlim_t)spec->nofile, (rlim_t)spec->nofile};
        if (setrlimit(RLIMIT_NOFILE, &limit) < 0) csb_fail(fd, CSB_STEP_NOFILE, errno, 0);
    }
    /* Every fd above 2 closes at execve; the report pipe stays open until then
     * so a failed execve can still be reported. */
    mark_fds_cloexec();
    /* Without no_new_privs the kernel only lets a process holding CAP_SYS_ADMIN
     * install a filter, so it goes in before the capabilities go (the profile
     * allows what follows); with it, as late as possible (runc's order). */
    int has_filter = spec->seccomp_program != NULL && spec->seccomp_instructions > 0;
    if (has_filter && !spec->no_new_privileges) load_seccomp(fd, spec);
    drop_privileges(fd, spec);
    /* A change of uid or gid clears the parent-death signal: set it again (a
     * profile that forbids prctl only costs that); a parent already gone ends us. */
    if (joined && spec->uid != 0) {
        (void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        if (getppid() != 0) _exit(128 + SIGKILL);
    }
    if (spec->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        csb_fail(fd, CSB_STEP_NO_NEW_PRIVILEGES, errno, 0);
    if (has_filter && spec->no_new_privileges) load_seccomp(fd, spec);
    int error = exec_search(spec->argv, spec->envp);
    csb_send_message(fd, CSB_MSG_EXEC_FAILED, CSB_STEP_EXEC, error, 0);
    _exit(127);
}

/* ---- the terminal ------------------------------------------------------------- */

/* Opens a pseudo-terminal in the session's own devpts (so `tty` names a path
 * that exists inside), sizes it, and sends its master to strata. */
int csb_open_terminal(int fd, int console_fd, const struct winsize *window) {
    int master = open("/dev/pts/ptmx", O_RDWR | O_NOCTTY | O_NOFOLLOW | O_CLOEXEC);
    if (master < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    /* A joined session's /dev is the session's to change: take only devpts's own ptmx. */
    struct statfs fs;
    if (fstatfs(master, &fs) < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (fs.f_type != DEVPTS_SUPER_MAGIC) csb_fail(fd, CSB_STEP_TERMINAL, CSB_ERR_NOT_DEVPTS, 0);
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    if (window != NULL && window->ws_row > 0 && ioctl(master, TIOCSWINSZ, window) < 0)
        csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    char byte = 0;
    struct iovec iov = {&byte, 1};
    union {
        char buffer[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control.buffer;
    message.msg_controllen = sizeof control.buffer;
    struct cmsghdr *header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(header), &master, sizeof(int));
    ssize_t n;
    do {
        n = sendmsg(console_fd, &message, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) csb_fail(fd, CSB_STEP_TERMINAL, errno, 0);
    close(console_fd);
    return master;
}

/* ---- waiting for the command ---------------------------------------------- */

static void ignore_signal(int sig) { (void)sig; }

void csb_close_fds_except_two(int a, int b) {
    int low = a < b ? a : b, high = a < b ? b : a;
    if (low < 0) { close_fds_except(high); return; }
    if (low > 3) (void)syscall(SYS_close_range, 3u, (unsigned)low - 1, 0u);
    if (high > low + 1) (void)syscall(SYS_close_range, (unsigned)low + 1, (unsigned)high - 1, 0u);
    (void)syscall(SYS_close_range, (unsigned)high + 1, ~0u, 0u);
}

void csb_take_signals(int fd, sigset_t *wanted) {
    sigemptyset(wanted);
    sigaddset(wanted, SIGCHLD);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = ignore_signal;
    sigfillset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, NULL) < 0) csb_fail(fd, CSB_STEP_INIT, errno, 0);
    for (int i = 0; i < FORWARDED_COUNT; i++) {
        sigaddset(wanted, forwarded_signals[i]);
        if (sigaction(forwarded_signals[i], &sa, NULL) < 0) csb_fail(fd, CSB_STEP_INIT, errno, 0);
    }
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, NULL);
}

int csb_wait_command(long command, const sigset_t *wanted) {
    int status = 0;
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(wanted, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) {
            (void)kill((pid_t)command, sig);
            continue;
        }
        int done = 0;
        for (;;) {
            int st;
            pid_t pid = waitpid(-1, &st, WNOHANG);
            if (pid <= 0) break;
            if (pid == (pid_t)command) { done = 1; status = st; }
        }
        if (done) return status;
    }
}

void csb_report_end(int fd, int status) {
    if (WIFSIGNALED(status)) csb_send_message(fd, CSB_MSG_SIGNALED, 0, WTERMSIG(status), 0);
    else csb_send_message(fd, CSB_MSG_EXITED, 0, WEXITSTATUS(status), 0);
}

void csb_enter_cgroups(int fd, const struct csb_spec *spec) {
    for (size_t i = 0; i < spec->cgroup_fd_count; i++) {
        ssize_t n;
        do {
            n = write(spec->cgroup_fds[i], "0", 1);
        } while (n < 0 && errno == EINTR);
        if (n < 0) csb_fail(fd, CSB_STEP_CGROUP, errno, (int)i);
        close(spec->cgroup_fds[i]);
    }
}

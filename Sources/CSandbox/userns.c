/*
 * Rootless strata's user namespace, entered in process at the start of main
 * (csb_userns.h says why). The dance, as newuidmap(1) requires it:
 *
 *   strata                               helper (forked first: stays outside)
 *   socketpair, fork ─────────────────▶  /dev/null on 1 and 2, fds close-on-exec
 *   unshare(CLONE_NEWUSER)               wait for the byte
 *   send one byte ────────────────────▶  newuidmap PID …  ┐ in parallel (fork,
 *   wait for the verdict                 newgidmap PID …  ┘ vfork), reaped by pid
 *                    ◀──────────────────  the verdict: each one's status
 *   reap the helper; complete any map it could not write with "0 ID 1"
 *
 * The helper is a child of a process that may later be multithreaded Swift,
 * so it keeps to the house rule: only async-signal-safe calls, no allocation,
 * no stdio, everything it needs prepared before the fork. The parent side is
 * free of that rule but needs no more than plain syscalls either.
 */
#define _GNU_SOURCE
#include "csb_userns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define CSB_CLOSE_RANGE_CLOEXEC (1u << 2)
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* "newuidmap PID" and three triples (below the caller's id, the caller's id,
 * above it), then NULL. */
#define MAP_ARGS_MAX (2 + 3 * 3 + 1)
#define NUMBER_MAX 24

/* The argument vector of one helper, in storage of its own. */
struct map_command {
    char *argv[MAP_ARGS_MAX];
    char numbers[MAP_ARGS_MAX][NUMBER_MAX];
    int argc;
};

/* What the helper reports: per map (0 uid, 1 gid) the program's wait status
 * and the errno that kept it from starting. Well under PIPE_BUF, sent whole. */
struct verdict {
    int status[2];
    int error[2];
};

/* ---- formatting (no stdio) --------------------------------------------------- */

static size_t format_number(char *out, unsigned long value) {
    char digits[NUMBER_MAX];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    for (size_t i = 0; i < n; i++) out[i] = digits[n - 1 - i];
    out[n] = '\0';
    return n;
}

static void add_number(struct map_command *command, unsigned long value) {
    char *slot = command->numbers[command->argc];
    format_number(slot, value);
    command->argv[command->argc++] = slot;
}

static void add_triple(struct map_command *command, unsigned long inside, unsigned long outside,
                       unsigned long count) {
    add_number(command, inside);
    add_number(command, outside);
    add_number(command, count);
}

/*
 * `program PID` and the keep-id map for `id` over `range` (count >= 1): the
 * range fills inside ids 0..count except `id` itself, which maps to itself,
 * so that count+1 ids are mapped. An id beyond the range sits on its own.
 */
static void build_map_command(struct map_command *command, const char *program, pid_t pid, unsigned id,
                              struct csb_id_range range) {
    command->argc = 0;
    command->argv[command->argc++] = (char *)program;
    add_number(command, (unsigned long)pid);
    if (id >= range.count) {
        add_triple(command, 0, range.start, range.count);
        add_triple(command, id, id, 1);
    } else {
        if (id > 0) add_triple(command, 0, range.start, id);
        add_triple(command, id, id, 1);
        add_triple(command, (unsigned long)id + 1, range.start + id, range.count - id);
    }
    command->argv[command->argc] = NULL;
}

/* ---- the helper (forked; async-signal-safe only) ----------------------------- */

static ssize_t send_all_or_nothing(int fd, const void *data, size_t length) {
    ssize_t n;
    do {
        n = send(fd, data, length, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t receive(int fd, void *data, size_t length) {
    ssize_t n;
    do {
        n = recv(fd, data, length, 0);
    } while (n < 0 && errno == EINTR);
    return n;
}

/* What a child whose execve failed writes on the report pipe. */
struct exec_failure {
    int index;
    int error;
};

/*
 * Starts helper program `index` with an empty environment: the programs are
 * setuid, and the caller's environment is none of their business. A child
 * whose execve fails writes {index, errno} on `report_fd` (close-on-exec, so
 * a successful exec writes nothing).
 *
 * The first program is forked and the second vforked. With vfork for both,
 * the second could not start before the first child had been scheduled and
 * reached its exec, which on a loaded machine runs them one after the other
 * (10-12 ms against 8-9 with two busy loops on two cores); vfork for the
 * second spares one more copy of strata's page tables.
 */
static pid_t start(char *const argv[], int index, int report_fd) {
    static char *const empty_environment[] = {NULL};
    pid_t pid = index == 0 ? fork() : vfork();
    if (pid == 0) {
        execve(argv[0], argv, empty_environment);
        struct exec_failure failure = {index, errno};
        if (report_fd >= 0) (void)!write(report_fd, &failure, sizeof failure);
        _exit(127);
    }
    return pid;
}

static int wait_for(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return 0x7f00; /* reaped by someone else: as if not found */
    }
    return status;
}

__attribute__((noreturn)) static void run_helper(int socket_fd, const struct map_command *uid_command,
                                                 const struct map_command *gid_command) {
    /* Our own waitpid must see the programs, whatever the caller made of SIGCHLD. */
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    (void)sigaction(SIGCHLD, &dfl, NULL);

    /* While strata unshares: newuidmap prints its complaints, and strata's
     * output is not the place for them; nor are strata's fds theirs to hold. */
    int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd >= 0) {
        (void)dup2(null_fd, 1);
        (void)dup2(null_fd, 2);
        close(null_fd);
    }
    (void)syscall(SYS_close_range, 3u, ~0u, CSB_CLOSE_RANGE_CLOEXEC);

    char go;
    if (receive(socket_fd, &go, 1) != 1) _exit(0); /* strata gave up (or died): map nothing */

    struct verdict verdict;
    memset(&verdict, 0, sizeof verdict);
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) report[0] = report[1] = -1;
    const struct map_command *commands[2] = {uid_command, gid_command};
    pid_t pids[2];
    for (int i = 0; i < 2; i++) {
        pids[i] = start(commands[i]->argv, i, report[1]);
        if (pids[i] < 0) verdict.error[i] = errno;
    }
    if (report[1] >= 0) close(report[1]);
    for (int i = 0; i < 2; i++) {
        if (pids[i] >= 0) verdict.status[i] = wait_for(pids[i]);
    }
    /* Both children are gone, so every write end is closed: this cannot block. */
    struct exec_failure failure;
    while (report[0] >= 0 && read(report[0], &failure, sizeof failure) == (ssize_t)sizeof failure) {
        if (failure.index == 0 || failure.index == 1) verdict.error[failure.index] = failure.error;
    }
    (void)send_all_or_nothing(socket_fd, &verdict, sizeof verdict);
    _exit(0);
}

/* ---- the caller's side ---------------------------------------------------------- */

static int write_proc_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return errno;
    size_t length = strlen(text);
    ssize_t n;
    do {
        n = write(fd, text, length);
    } while (n < 0 && errno == EINTR);
    int error = n < 0 ? errno : (size_t)n != length ? EIO : 0;
    close(fd);
    return error;
}

/* A map file that is no longer empty was written, by whoever; it cannot be again. */
static int map_is_written(const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    char byte;
    ssize_t n;
    do {
        n = read(fd, &byte, 1);
    } while (n < 0 && errno == EINTR);
    close(fd);
    return n > 0;
}

static int fail(struct csb_userns_result *result, int mode, int step, int error) {
    result->mode = mode;
    result->step = step;
    result->error = error;
    return -1;
}

/* The single-id form of one map: our own id as 0. The kernel allows an
 * unprivileged process exactly this (for gid_map only after "deny" to
 * setgroups, so that dropping a group cannot grant access). */
static int write_single_uid_map(unsigned uid, struct csb_userns_result *result) {
    char line[NUMBER_MAX + 8] = "0 ";
    size_t n = 2 + format_number(line + 2, uid);
    memcpy(line + n, " 1\n", 4);
    int error = write_proc_file("/proc/self/uid_map", line);
    return error == 0 ? 0 : fail(result, CSB_USERNS_NONE, CSB_USERNS_STEP_UID_MAP, error);
}

static int write_single_gid_map(unsigned gid, struct csb_userns_result *result) {
    int error = write_proc_file("/proc/self/setgroups", "deny\n");
    if (error != 0) return fail(result, CSB_USERNS_NONE, CSB_USERNS_STEP_SETGROUPS, error);
    char line[NUMBER_MAX + 8] = "0 ";
    size_t n = 2 + format_number(line + 2, gid);
    memcpy(line + n, " 1\n", 4);
    error = write_proc_file("/proc/self/gid_map", line);
    return error == 0 ? 0 : fail(result, CSB_USERNS_NONE, CSB_USERNS_STEP_GID_MAP, error);
}

/* SINGLE from the start: no helper, nothing to wait for. */
static int enter_single(const struct csb_userns_request *request, struct csb_userns_result *result) {
    if (unshare(CLONE_NEWUSER) < 0) return fail(result, CSB_USERNS_NONE, CSB_USERNS_STEP_UNSHARE, errno);
    if (write_single_uid_map(request->uid, result) < 0) return -1;
    if (write_single_gid_map(request->gid, result) < 0) return -1;
    result->mode = CSB_USERNS_SINGLE;
    return 0;
}

/* Without a helper there is no FULL map: SINGLE, saying why. */
static int fall_back_to_single(const struct csb_userns_request *request, struct csb_userns_result *result, int step,
                               int error) {
    if (enter_single(request, result) < 0) return -1;
    result->step = step;
    result->error = error;
    return 0;
}

/* After a helper failed: completes whichever map nobody wrote, so that the
 * process is never left half mapped. */
static int complete_maps(const struct csb_userns_request *request, struct csb_userns_result *result) {
    int step = result->step, error = result->error, status = result->helper_status;
    if (!map_is_written("/proc/self/uid_map") && write_single_uid_map(request->uid, result) < 0) return -1;
    if (!map_is_written("/proc/self/gid_map") && write_single_gid_map(request->gid, result) < 0) return -1;
    result->mode = csb_user_namespace_mode();
    result->step = step;
    result->error = error;
    result->helper_status = status;
    return 0;
}

int csb_enter_user_namespace(const struct csb_userns_request *request, struct csb_userns_result *result) {
    memset(result, 0, sizeof *result);
    int full = request->subuid.count >= 1 && request->subgid.count >= 1 && request->newuidmap != NULL &&
               request->newgidmap != NULL;
    if (!full) return enter_single(request, result);

    /* Prepared before the fork, so that the helper only has to exec. */
    pid_t self = getpid();
    struct map_command uid_command, gid_command;
    build_map_command(&uid_command, request->newuidmap, self, request->uid, request->subuid);
    build_map_command(&gid_command, request->newgidmap, self, request->gid, request->subgid);

    /* A socket rather than pipes: one pair for both directions, and
     * MSG_NOSIGNAL, so that a helper that died cannot raise SIGPIPE in us. */
    int sockets[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sockets) < 0)
        return fall_back_to_single(request, result, CSB_USERNS_STEP_SOCKET, errno);
    pid_t helper = fork();
    if (helper < 0) {
        int error = errno;
        close(sockets[0]);
        close(sockets[1]);
        return fall_back_to_single(request, result, CSB_USERNS_STEP_FORK, error);
    }
    if (helper == 0) {
        close(sockets[0]);
        run_helper(sockets[1], &uid_command, &gid_command);
    }
    close(sockets[1]);
    int socket_fd = sockets[0];

    if (unshare(CLONE_NEWUSER) < 0) {
        int error = errno;
        close(socket_fd); /* the helper sees the end of the socket and leaves */
        (void)wait_for(helper);
        return fail(result, CSB_USERNS_NONE, CSB_USERNS_STEP_UNSHARE, error);
    }

    struct verdict verdict;
    ssize_t n = send_all_or_nothing(socket_fd, "g", 1);
    if (n == 1) n = receive(socket_fd, &verdict, sizeof verdict);
    close(socket_fd);
    int helper_status = wait_for(helper);

    if (n != (ssize_t)sizeof verdict) {
        result->step = CSB_USERNS_STEP_HELPER;
        result->helper_status = helper_status;
        return complete_maps(request, result);
    }
    int uid_failed = verdict.status[0] != 0 || verdict.error[0] != 0;
    int gid_failed = verdict.status[1] != 0 || verdict.error[1] != 0;
    if (!uid_failed && !gid_failed) {
        result->mode = CSB_USERNS_FULL;
        return 0;
    }
    int which = uid_failed ? 0 : 1;
    result->step = uid_failed && gid_failed ? CSB_USERNS_STEP_NEWIDMAPS
                   : uid_failed             ? CSB_USERNS_STEP_NEWUIDMAP
                                            : CSB_USERNS_STEP_NEWGIDMAP;
    result->helper_status = verdict.status[which];
    result->error = verdict.error[which];
    return complete_maps(request, result);
}

/* ---- the mode, from /proc --------------------------------------------------------- */

/* Reads up to `size - 1` bytes of `path`, NUL-terminated; the length, or -1. */
static ssize_t read_small_file(const char *path, char *buffer, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t total = 0;
    while (total + 1 < size) {
        ssize_t n = read(fd, buffer + total, size - 1 - total);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        total += (size_t)n;
    }
    close(fd);
    buffer[total] = '\0';
    return (ssize_t)total;
}

static const char *parse_number(const char *p, unsigned long long *value) {
    while (*p == ' ' || *p == '\t') p++;
    if (*p < '0' || *p > '9') return NULL;
    unsigned long long v = 0;
    while (*p >= '0' && *p <= '9') v = v * 10 + (unsigned long long)(*p++ - '0');
    *value = v;
    return p;
}

int csb_user_namespace_mode(void) {
    /* At most 340 lines of three numbers each (the kernel's limit). */
    char map[340 * 36];
    if (read_small_file("/proc/self/uid_map", map, sizeof map) < 0) return CSB_USERNS_NONE;
    unsigned long long mapped = 0;
    int lines = 0, identity = 0;
    for (const char *p = map; *p != '\0';) {
        unsigned long long inside = 0, outside = 0, count = 0;
        const char *q = parse_number(p, &inside);
        if (q != NULL) q = parse_number(q, &outside);
        if (q != NULL) q = parse_number(q, &count);
        if (q == NULL) break;
        lines++;
        mapped += count;
        identity = inside == 0 && outside == 0 && count == 4294967295ULL;
        while (*q != '\0' && *q != '\n') q++;
        p = *q == '\n' ? q + 1 : q;
    }
    if (lines == 1 && identity) return CSB_USERNS_NONE;
    if (mapped <= 1) return CSB_USERNS_SINGLE;
    char setgroups[16];
    if (read_small_file("/proc/self/setgroups", setgroups, sizeof setgroups) > 0 &&
        strncmp(setgroups, "deny", 4) == 0)
        return CSB_USERNS_SINGLE;
    return CSB_USERNS_FULL;
}

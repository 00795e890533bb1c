/*
 * The session child, from clone(2) to execve(2). Everything here must be
 * async-signal-safe: plain syscalls, no malloc, no stdio, no locks. Buffers
 * live on the stack. Each step reports {step, errno, index} over the
 * close-on-exec pipe and exits; the parent names the path.
 *
 * The order of operations is the design (bubblewrap, crun):
 *   private propagation → overlay → /proc /dev /sys /tmp → spec mounts →
 *   hostname → pivot_root + detach old root → working directory → init
 *   → (fork) command (command.c): reset signals, close fds, [seccomp, caps], execve.
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Our own names for the new mount API, so older glibc headers still build. */
#define CSB_FSOPEN_CLOEXEC 0x00000001u
#define CSB_FSMOUNT_CLOEXEC 0x00000001u
#define CSB_FSCONFIG_SET_FLAG 0u
#define CSB_FSCONFIG_SET_STRING 1u
#define CSB_FSCONFIG_CMD_CREATE 6u
#define CSB_MOVE_MOUNT_F_EMPTY_PATH 0x00000004u
#define CSB_MOVE_MOUNT_T_EMPTY_PATH 0x00000040u
#define CSB_OPEN_TREE_CLONE 0x00000001u
#define CSB_AT_RECURSIVE 0x8000
#define CSB_AT_EMPTY_PATH 0x1000
#define CSB_MOUNT_ATTR_RDONLY 0x00000001u
#define CSB_MOUNT_ATTR_NOSUID 0x00000002u
#define CSB_MOUNT_ATTR_NODEV 0x00000004u
#define CSB_MOUNT_ATTR_NOEXEC 0x00000008u

#ifndef SYS_fsopen
#define SYS_fsopen 430
#define SYS_fsconfig 431
#define SYS_fsmount 432
#define SYS_move_mount 429
#define SYS_open_tree 428
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

struct csb_mount_attr {
    unsigned long long attr_set;
    unsigned long long attr_clr;
    unsigned long long propagation;
    unsigned long long userns_fd;
};

const struct csb_protected_path csb_protected_paths[] = {
    {0, 0, "acpi", "/proc/acpi"}, {0, 0, "asound", "/proc/asound"}, {0, 0, "interrupts", "/proc/interrupts"},
    {0, 0, "kcore", "/proc/kcore"}, {0, 0, "keys", "/proc/keys"}, {0, 0, "latency_stats", "/proc/latency_stats"},
    {0, 0, "sched_debug", "/proc/sched_debug"}, {0, 0, "scsi", "/proc/scsi"},
    {0, 0, "timer_list", "/proc/timer_list"}, {0, 0, "timer_stats", "/proc/timer_stats"},
    {0, 1, "bus", "/proc/bus"}, {0, 1, "fs", "/proc/fs"}, {0, 1, "irq", "/proc/irq"},
    {0, 1, "sys", "/proc/sys"}, {0, 1, "sysrq-trigger", "/proc/sysrq-trigger"},
    {1, 0, "firmware", "/sys/firmware"}, {1, 0, "devices/virtual/powercap", "/sys/devices/virtual/powercap"},
};
const int csb_protected_count = (int)(sizeof csb_protected_paths / sizeof csb_protected_paths[0]);

const char *const csb_device_names[] = {"null", "zero", "full", "random", "urandom", "tty"};
const int csb_device_count = 6;

/* ---- syscall shims -------------------------------------------------------- */

static int sys_fsopen(const char *fs) { return (int)syscall(SYS_fsopen, fs, CSB_FSOPEN_CLOEXEC); }
static int sys_fsconfig(int fd, unsigned cmd, const char *key, const void *value) {
    return (int)syscall(SYS_fsconfig, fd, cmd, key, value, 0);
}
static int sys_fsmount(int fd, unsigned attrs) { return (int)syscall(SYS_fsmount, fd, CSB_FSMOUNT_CLOEXEC, attrs); }
static int sys_move_mount(int from_fd, int to_fd, const char *to_path) {
    unsigned flags = CSB_MOVE_MOUNT_F_EMPTY_PATH | (to_path[0] == '\0' ? CSB_MOVE_MOUNT_T_EMPTY_PATH : 0);
    return (int)syscall(SYS_move_mount, from_fd, "", to_fd, to_path, flags);
}
static int sys_open_tree_at(int dir_fd, const char *path, int recursive) {
    unsigned flags = CSB_OPEN_TREE_CLONE | O_CLOEXEC | (recursive ? CSB_AT_RECURSIVE : 0);
    return (int)syscall(SYS_open_tree, dir_fd, path, flags);
}
static int sys_open_tree(const char *path, int recursive) { return sys_open_tree_at(AT_FDCWD, path, recursive); }
static int sys_make_readonly(int tree_fd) {
    struct csb_mount_attr attr = {CSB_MOUNT_ATTR_RDONLY, 0, 0, 0};
    return (int)syscall(SYS_mount_setattr, tree_fd, "", CSB_AT_EMPTY_PATH | CSB_AT_RECURSIVE, &attr, sizeof attr);
}

/* ---- paths inside the new root -------------------------------------------- */

static int resolve_target(int fd, int root_fd, const char *path, int which) {
    int dir = csb_open_dir_in_root(root_fd, path);
    if (dir < 0) csb_fail(fd, CSB_STEP_MOUNT_POINT, -dir, which);
    return dir;
}

/*
 * The mount point for a file bind mount: the file `path` inside the root, created
 * empty (0644) when missing, opened O_PATH without following a symlink. Its parent
 * is resolved as a directory mount point is. Returns an fd, or -error.
 */
static int open_file_in_root(int root_fd, const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--;
    size_t slash = len;
    while (slash > 0 && path[slash - 1] != '/') slash--;
    size_t leaf_len = len - slash;
    if (leaf_len == 0 || leaf_len > NAME_MAX) return -ENAMETOOLONG;
    char parent[4096];
    if (slash >= sizeof parent) return -ENAMETOOLONG;
    memcpy(parent, path, slash);
    parent[slash] = '\0';
    char leaf[NAME_MAX + 1];
    memcpy(leaf, path + slash, leaf_len);
    leaf[leaf_len] = '\0';
    if (strcmp(leaf, "..") == 0) return -CSB_ERR_DOTDOT;
    int dir = csb_open_dir_in_root(root_fd, parent);
    if (dir < 0) return dir;
    int file = openat(dir, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    if (file < 0 && errno == ENOENT) {
        int created = openat(dir, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
        if (created < 0 && errno != EEXIST) { int e = errno; close(dir); return -e; }
        if (created >= 0) close(created);
        file = openat(dir, leaf, O_PATH | O_NOFOLLOW | O_CLOEXEC);
    }
    int e = errno;
    close(dir);
    if (file < 0) return -e;
    struct stat st;
    if (fstat(file, &st) < 0) { e = errno; close(file); return -e; }
    if (S_ISLNK(st.st_mode)) { close(file); return -CSB_ERR_SYMLINK; }
    if (S_ISDIR(st.st_mode)) { close(file); return -EISDIR; }
    return file;
}

/* ---- fresh filesystems ---------------------------------------------------- */

/* One fsconfig option: value NULL sets a flag. */
struct fs_option {
    const char *key;
    const char *value;
};

/* Creates a detached mount of a fresh `fstype`; returns the mount fd or -errno. */
static int fresh_mount(const char *fstype, const struct fs_option *options, int count, unsigned attrs) {
    int fs = sys_fsopen(fstype);
    if (fs < 0) return -errno;
    for (int i = 0; i < count; i++) {
        int r = options[i].value != NULL
            ? sys_fsconfig(fs, CSB_FSCONFIG_SET_STRING, options[i].key, options[i].value)
            : sys_fsconfig(fs, CSB_FSCONFIG_SET_FLAG, options[i].key, NULL);
        if (r < 0) { int e = errno; close(fs); return -e; }
    }
    if (sys_fsconfig(fs, CSB_FSCONFIG_CMD_CREATE, NULL, NULL) < 0) { int e = errno; close(fs); return -e; }
    int mnt = sys_fsmount(fs, attrs);
    int e = errno;
    close(fs);
    return mnt < 0 ? -e : mnt;
}

/* Mounts a fresh filesystem on the directory `dir_fd`; returns the new mount's root fd. */
static int mount_fresh_on(int fd, int step, int dir_fd, const char *fstype,
                          const struct fs_option *options, int count, unsigned attrs) {
    int mnt = fresh_mount(fstype, options, count, attrs);
    if (mnt < 0) csb_fail(fd, step, -mnt, 0);
    if (sys_move_mount(mnt, dir_fd, "") < 0) csb_fail(fd, step, errno, 0);
    return mnt;
}

/* ---- the overlay ---------------------------------------------------------- */

/* Kernels without fsopen(2), or before "lowerdir+" (6.8): mount(2), but only
 * with an option string that provably fits in the page mount(2) copies. */
static void mount_overlay_legacy(int fd, const struct csb_spec *spec) {
    if (spec->legacy_overlay_options == NULL) csb_fail(fd, CSB_STEP_OVERLAY_LEGACY, CSB_ERR_OPTIONS_TOO_LONG, 0);
    if (mount("overlay", spec->root_dir, "overlay", MS_NODEV, spec->legacy_overlay_options) < 0)
        csb_fail(fd, CSB_STEP_OVERLAY_LEGACY, errno, 0);
}

static void mount_overlay(int fd, const struct csb_spec *spec) {
    if (spec->force_legacy_overlay) { mount_overlay_legacy(fd, spec); return; }
    int fs = sys_fsopen("overlay");
    if (fs < 0 && errno == ENOSYS) { mount_overlay_legacy(fd, spec); return; }
    if (fs < 0) csb_fail(fd, CSB_STEP_OVERLAY_OPEN, errno, 0);
    if (sys_fsconfig(fs, CSB_FSCONFIG_SET_STRING, "source", "overlay") < 0) csb_fail(fd, CSB_STEP_OVERLAY_OPEN, errno, 0);
    for (size_t i = 0; i < spec->lower_count; i++) {
        /* One layer per call: no string limit, and every layer is accounted for. */
        if (sys_fsconfig(fs, CSB_FSCONFIG_SET_STRING, "lowerdir+", spec->lower_dirs[i]) < 0) {
            if (i == 0 && errno == EINVAL) { close(fs); mount_overlay_legacy(fd, spec); return; }
            csb_fail(fd, CSB_STEP_OVERLAY_LOWER, errno, (int)i);
        }
    }
    if (sys_fsconfig(fs, CSB_FSCONFIG_SET_STRING, "upperdir", spec->upper_dir) < 0)
        csb_fail(fd, CSB_STEP_OVERLAY_UPPER, errno, 0);
    if (sys_fsconfig(fs, CSB_FSCONFIG_SET_STRING, "workdir", spec->work_dir) < 0)
        csb_fail(fd, CSB_STEP_OVERLAY_WORK, errno, 0);
    if (spec->overlay_userxattr && sys_fsconfig(fs, CSB_FSCONFIG_SET_FLAG, "userxattr", NULL) < 0)
        csb_fail(fd, CSB_STEP_OVERLAY_CREATE, errno, 0);
    if (sys_fsconfig(fs, CSB_FSCONFIG_CMD_CREATE, NULL, NULL) < 0) csb_fail(fd, CSB_STEP_OVERLAY_CREATE, errno, 0);
    /* nodev: a device node the session makes (CAP_MKNOD, as in Docker) cannot be opened. */
    int mnt = sys_fsmount(fs, CSB_MOUNT_ATTR_NODEV);
    if (mnt < 0) csb_fail(fd, CSB_STEP_OVERLAY_MOUNT, errno, 0);
    if (sys_move_mount(mnt, AT_FDCWD, spec->root_dir) < 0) csb_fail(fd, CSB_STEP_OVERLAY_MOUNT, errno, 0);
    close(mnt);
    close(fs);
}

/* ---- /proc /dev /sys /tmp ------------------------------------------------- */

/*
 * Hides or freezes the kernel interfaces Docker hides or freezes, under the
 * fresh /proc (under_sys 0) or /sys (1) whose mount root is `base`: a masked
 * directory gets an empty read-only tmpfs, a masked file the host's
 * /dev/null, a read-only path a read-only bind of itself. Paths this kernel
 * does not have are skipped.
 */
static void protect_paths(int fd, int base, int under_sys) {
    for (int i = 0; i < csb_protected_count; i++) {
        const struct csb_protected_path *p = &csb_protected_paths[i];
        if (p->under_sys != under_sys) continue;
        struct stat st;
        if (fstatat(base, p->name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
            if (errno == ENOENT) continue;
            csb_fail(fd, CSB_STEP_PROTECT_PATH, errno, i);
        }
        int tree;
        if (p->read_only) {
            tree = sys_open_tree_at(base, p->name, 1);
            if (tree < 0) csb_fail(fd, CSB_STEP_PROTECT_PATH, errno, i);
            if (sys_make_readonly(tree) < 0) csb_fail(fd, CSB_STEP_PROTECT_PATH, errno, i);
        } else if (S_ISDIR(st.st_mode)) {
            static const struct fs_option options[] = {{"source", "tmpfs"}};
            tree = fresh_mount("tmpfs", options, 1, CSB_MOUNT_ATTR_RDONLY | CSB_MOUNT_ATTR_NOSUID |
                                                        CSB_MOUNT_ATTR_NODEV | CSB_MOUNT_ATTR_NOEXEC);
            if (tree < 0) csb_fail(fd, CSB_STEP_PROTECT_PATH, -tree, i);
        } else {
            tree = sys_open_tree("/dev/null", 0);
            if (tree < 0) csb_fail(fd, CSB_STEP_PROTECT_PATH, errno, i);
        }
        if (sys_move_mount(tree, base, p->name) < 0) csb_fail(fd, CSB_STEP_PROTECT_PATH, errno, i);
        close(tree);
    }
}

static void mount_proc(int fd, int root_fd) {
    int dir = resolve_target(fd, root_fd, "/proc", CSB_BUILTIN_PROC);
    static const struct fs_option proc_options[] = {{"source", "proc"}};
    int mnt = mount_fresh_on(fd, CSB_STEP_MOUNT_PROC, dir, "proc", proc_options, 1,
                             CSB_MOUNT_ATTR_NOSUID | CSB_MOUNT_ATTR_NODEV | CSB_MOUNT_ATTR_NOEXEC);
    protect_paths(fd, mnt, 0);
    close(mnt);
    close(dir);
}

static void mount_dev(int fd, int root_fd, const struct csb_spec *spec) {
    int dir = resolve_target(fd, root_fd, "/dev", CSB_BUILTIN_DEV);
    static const struct fs_option dev_options[] = {{"source", "tmpfs"}, {"mode", "0755"}};
    int dev = mount_fresh_on(fd, CSB_STEP_MOUNT_DEV, dir, "tmpfs", dev_options, 2, CSB_MOUNT_ATTR_NOSUID);
    close(dir);

    for (int i = 0; i < csb_device_count; i++) {
        /* Bind the host's node onto an empty file in our fresh tmpfs: no mknod, no symlinks. */
        char host[32] = "/dev/";
        size_t n = strlen(csb_device_names[i]);
        memcpy(host + 5, csb_device_names[i], n + 1);
        int file = openat(dev, csb_device_names[i], O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (file < 0) csb_fail(fd, CSB_STEP_DEV_NODE, errno, i);
        close(file);
        int tree = sys_open_tree(host, 0);
        if (tree < 0) csb_fail(fd, CSB_STEP_DEV_NODE, errno, i);
        if (sys_move_mount(tree, dev, csb_device_names[i]) < 0) csb_fail(fd, CSB_STEP_DEV_NODE, errno, i);
        close(tree);
    }

    if (mkdirat(dev, "pts", 0755) < 0) csb_fail(fd, CSB_STEP_MOUNT_DEVPTS, errno, 0);
    int pts_dir = openat(dev, "pts", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (pts_dir < 0) csb_fail(fd, CSB_STEP_MOUNT_DEVPTS, errno, 0);
    static const struct fs_option pts_options[] = {
        {"source", "devpts"}, {"newinstance", NULL}, {"ptmxmode", "0666"}, {"mode", "0620"}, {"gid", "5"},
    };
    /* gid= last, so that a single-id namespace (no group 5) can leave it out. */
    close(mount_fresh_on(fd, CSB_STEP_MOUNT_DEVPTS, pts_dir, "devpts", pts_options, spec->single_id_map ? 4 : 5,
                         CSB_MOUNT_ATTR_NOSUID | CSB_MOUNT_ATTR_NOEXEC));
    close(pts_dir);

    if (mkdirat(dev, "shm", 01777) < 0) csb_fail(fd, CSB_STEP_MOUNT_SHM, errno, 0);
    int shm_dir = openat(dev, "shm", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (shm_dir < 0) csb_fail(fd, CSB_STEP_MOUNT_SHM, errno, 0);
    static const struct fs_option shm_options[] = {{"source", "shm"}, {"mode", "1777"}};
    close(mount_fresh_on(fd, CSB_STEP_MOUNT_SHM, shm_dir, "tmpfs", shm_options, 2,
                         CSB_MOUNT_ATTR_NOSUID | CSB_MOUNT_ATTR_NODEV | CSB_MOUNT_ATTR_NOEXEC));
    close(shm_dir);

    static const char *const links[][2] = {
        {"pts/ptmx", "ptmx"}, {"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
    };
    for (size_t i = 0; i < sizeof links / sizeof links[0]; i++) {
        if (symlinkat(links[i][0], dev, links[i][1]) < 0) csb_fail(fd, CSB_STEP_DEV_SYMLINK, errno, (int)i);
    }
    close(dev);
}

static void mount_sys(int fd, int root_fd) {
    int dir = resolve_target(fd, root_fd, "/sys", CSB_BUILTIN_SYS);
    unsigned attrs = CSB_MOUNT_ATTR_RDONLY | CSB_MOUNT_ATTR_NOSUID | CSB_MOUNT_ATTR_NODEV | CSB_MOUNT_ATTR_NOEXEC;
    static const struct fs_option sys_options[] = {{"source", "sysfs"}};
    int mnt = fresh_mount("sysfs", sys_options, 1, attrs);
    if (mnt < 0) {
        /* A fresh sysfs can be refused (e.g. sharing a network namespace we do not own): bind the host's, read-only. */
        mnt = sys_open_tree("/sys", 1);
        if (mnt < 0) csb_fail(fd, CSB_STEP_MOUNT_SYS, errno, 0);
        if (sys_make_readonly(mnt) < 0) csb_fail(fd, CSB_STEP_MOUNT_SYS, errno, 0);
    }
    if (sys_move_mount(mnt, dir, "") < 0) csb_fail(fd, CSB_STEP_MOUNT_SYS, errno, 0);
    protect_paths(fd, mnt, 1);
    close(mnt);
    close(dir);
}

static void mount_tmp(int fd, int root_fd) {
    int dir = resolve_target(fd, root_fd, "/tmp", CSB_BUILTIN_TMP);
    static const struct fs_option options[] = {{"source", "tmpfs"}, {"mode", "1777"}};
    close(mount_fresh_on(fd, CSB_STEP_MOUNT_TMP, dir, "tmpfs", options, 2,
                         CSB_MOUNT_ATTR_NOSUID | CSB_MOUNT_ATTR_NODEV));
    close(dir);
}

/* ---- the spec's mounts ---------------------------------------------------- */

static void mount_spec(int fd, int root_fd, const struct csb_spec *spec) {
    for (size_t i = 0; i < spec->mount_count; i++) {
        const struct csb_mount *m = &spec->mounts[i];
        int index = (int)i;
        int tree;
        if (m->kind == CSB_MOUNT_BIND) {
            /* open_tree(OPEN_TREE_CLONE|AT_RECURSIVE) is MS_BIND|MS_REC on a detached copy;
             * the source is a host path, resolved before pivot_root. */
            tree = sys_open_tree(m->source, 1);
            if (tree < 0) csb_fail(fd, CSB_STEP_MOUNT_SOURCE, errno, index);
            /* Read-only before it becomes visible, and for every submount too. */
            if (m->read_only && sys_make_readonly(tree) < 0) csb_fail(fd, CSB_STEP_MOUNT_READONLY, errno, index);
        } else {
            static const struct fs_option tmpfs_options[] = {{"source", "tmpfs"}};
            tree = fresh_mount("tmpfs", tmpfs_options, 1, CSB_MOUNT_ATTR_NOSUID | CSB_MOUNT_ATTR_NODEV);
            if (tree < 0) csb_fail(fd, CSB_STEP_MOUNT, -tree, index);
        }
        /* A file is bind-mounted onto a file, as Docker does; everything else onto a directory. */
        struct stat source;
        int dir;
        if (m->kind == CSB_MOUNT_BIND && fstat(tree, &source) == 0 && !S_ISDIR(source.st_mode)) {
            dir = open_file_in_root(root_fd, m->target);
            if (dir < 0) csb_fail(fd, CSB_STEP_MOUNT_POINT, -dir, CSB_SPEC_MOUNT_BASE + index);
        } else {
            dir = resolve_target(fd, root_fd, m->target, CSB_SPEC_MOUNT_BASE + index);
        }
        if (sys_move_mount(tree, dir, "") < 0) csb_fail(fd, CSB_STEP_MOUNT, errno, index);
        close(tree);
        close(dir);
    }
}

/* ---- network, root, working directory -------------------------------------- */

static void bring_loopback_up(int fd) {
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0) csb_fail(fd, CSB_STEP_LOOPBACK, errno, 0);
    struct ifreq req;
    memset(&req, 0, sizeof req);
    memcpy(req.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &req) < 0) csb_fail(fd, CSB_STEP_LOOPBACK, errno, 0);
    req.ifr_flags |= IFF_UP;
    if (ioctl(s, SIOCSIFFLAGS, &req) < 0) csb_fail(fd, CSB_STEP_LOOPBACK, errno, 0);
    close(s);
}

static void enter_root(int fd, int root_fd) {
    /* pivot_root(".", ".") stacks the old root on the new one; no put_old
     * directory is needed, so nothing is written to the session's upper dir. */
    if (fchdir(root_fd) < 0) csb_fail(fd, CSB_STEP_PIVOT_ROOT, errno, 0);
    if (syscall(SYS_pivot_root, ".", ".") < 0) csb_fail(fd, CSB_STEP_PIVOT_ROOT, errno, 0);
    if (umount2(".", MNT_DETACH) < 0) csb_fail(fd, CSB_STEP_DETACH_OLD_ROOT, errno, 0);
    if (chdir("/") < 0) csb_fail(fd, CSB_STEP_DETACH_OLD_ROOT, errno, 0);
}

/* ---- init ------------------------------------------------------------------ */

/*
 * PID 1 of the session: runs the command, forwards signals to it, reaps
 * every child (orphans included), reports how the command ended, then kills
 * whatever is left. Signals stay blocked (inherited from csb_run) and are
 * taken with sigwaitinfo, so none is lost between clone and here; the no-op
 * handlers make sure no signal is discarded as "default action for init".
 */
__attribute__((noreturn)) static void run_init(const struct csb_spec *spec, int fd, int console_fd,
                                               const struct winsize *window) {
    sigset_t wanted;
    csb_take_signals(fd, &wanted);

    /* The init keeps every capability and a copy of strata's memory: the
     * command (fewer capabilities) must not read or trace it through /proc/1. */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) csb_fail(fd, CSB_STEP_INIT, errno, 0);
    int master = console_fd >= 0 ? csb_open_terminal(fd, console_fd, window) : -1;
    /* The session is complete: strata may now let others join it. */
    csb_send_message(fd, CSB_MSG_READY, 0, 0, 0);

    long command = csb_start_command(spec, fd, master, 0);
    if (master >= 0) close(master);

    int status = csb_wait_command(command, &wanted);
    csb_report_end(fd, status);
    close(fd);
    /* The command is done: whatever it left behind goes with the session. */
    (void)kill(-1, SIGKILL);
    for (;;) {
        pid_t pid = waitpid(-1, NULL, 0);
        if (pid > 0 || (pid < 0 && errno == EINTR)) continue;
        break;
    }
    _exit(0);
}

/* ---- the sequence ----------------------------------------------------------- */

/* Moves this process into the session's cgroups, then gives it a cgroup
 * namespace rooted there (so /proc/self/cgroup reads "/"). */
static void join_cgroups(int fd, const struct csb_spec *spec) {
    csb_enter_cgroups(fd, spec);
    if (unshare(CLONE_NEWCGROUP) < 0) csb_fail(fd, CSB_STEP_CGROUP, errno, 0);
}

/* 0-2 of the session (the init's, and so the command's): /dev/null in, `output` out. */
static void redirect_output(int fd, int output) {
    int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0) csb_fail(fd, CSB_STEP_INIT, errno, 0);
    if (dup2(null, 0) < 0 || dup2(output, 1) < 0 || dup2(output, 2) < 0) csb_fail(fd, CSB_STEP_INIT, errno, 0);
    close(null);
}

/*
 * A rootless strata keeps the user's own uid in its namespace, so that what it
 * writes on the host (the store) is the user's. The session is built as the
 * namespace's root instead, as a root session is: its root directory (the upper
 * dir's owner), /dev and /tmp then belong to root inside. Going from a non-zero
 * uid to 0 copies the permitted capabilities (all of them) to the effective set.
 */
static void become_namespace_root(int fd, const struct csb_spec *spec) {
    if (getuid() == 0 && getgid() == 0) return;
    if (syscall(SYS_setresgid, 0, 0, 0) < 0) csb_fail(fd, CSB_STEP_USER, errno, 0);
    if (syscall(SYS_setresuid, 0, 0, 0) < 0) csb_fail(fd, CSB_STEP_USER, errno, 0);
    if (chown(spec->upper_dir, 0, 0) < 0) csb_fail(fd, CSB_STEP_OVERLAY_UPPER, errno, 0);
}

void csb_child_main(const struct csb_spec *spec, int fd, int console_fd, const struct winsize *window) {
    /* Before the parent-death signal: a change of uid clears it. */
    if (spec->overlay_userxattr) become_namespace_root(fd, spec);
    /* The session must not outlive strata. */
    (void)prctl(PR_SET_PDEATHSIG, SIGKILL);
    csb_reset_signals();
    if (spec->cgroup_fd_count > 0) join_cgroups(fd, spec);
    if (spec->output_fd >= 0) redirect_output(fd, spec->output_fd);
    /* The child is a copy of strata and so holds all of strata's fds: the
     * command could reach them through /proc/1/fd, and while they are open
     * here the flocks other threads of strata take on them (a session's lock,
     * a build's) outlive those threads' close. So only 0-2 and the pipes stay,
     * from the first moment nothing else is needed (the cgroup fds are closed). */
    csb_close_fds_except_two(fd, console_fd);

    /* Nothing mounted from here on may propagate back to the host. */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) csb_fail(fd, CSB_STEP_MAKE_PRIVATE, errno, 0);
    mount_overlay(fd, spec);
    int root_fd = open(spec->root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0) csb_fail(fd, CSB_STEP_OPEN_ROOT, errno, 0);

    mount_proc(fd, root_fd);
    mount_dev(fd, root_fd, spec);
    mount_sys(fd, root_fd);
    mount_tmp(fd, root_fd);
    mount_spec(fd, root_fd, spec);
    /* Last, when every mount point exists: only the overlay itself turns
     * read-only; /dev, /tmp, /proc and the spec's mounts keep their modes. */
    if (spec->readonly_root) {
        struct csb_mount_attr attr = {CSB_MOUNT_ATTR_RDONLY, 0, 0, 0};
        if (syscall(SYS_mount_setattr, root_fd, "", CSB_AT_EMPTY_PATH, &attr, sizeof attr) < 0)
            csb_fail(fd, CSB_STEP_READONLY_ROOT, errno, 0);
    }

    size_t host_len = strlen(spec->hostname);
    if (host_len > 0 && sethostname(spec->hostname, host_len) < 0) csb_fail(fd, CSB_STEP_HOSTNAME, errno, 0);
    if (spec->isolate_network) bring_loopback_up(fd);

    enter_root(fd, root_fd);
    close(root_fd);
    csb_enter_working_directory(fd, spec->working_directory);
    run_init(spec, fd, console_fd, window);
}

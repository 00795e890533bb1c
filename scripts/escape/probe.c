/*
 * probe.c: tries, one by one, what a confined session must not be able to do,
 * and prints one line per attempt:
 *
 *     NAME<TAB>ok|FAIL|skip<TAB>what happened<TAB>what is expected
 *
 * Exit status 0 iff no row says FAIL. Build it static so it needs nothing from
 * the root it runs in:  cc -static -O2 -o probe probe.c
 *
 * usage: probe [--host-pid PID] [--host-marker PATH]
 *   --host-pid     a process of the host; the session must not be able to trace it
 *   --host-marker  a file of the host outside the session; an escape that can see
 *                  it has reached the host's file system
 *
 * Every attempt runs in a forked child, so one that unexpectedly succeeds (a new
 * namespace, a chroot, a personality) cannot change what later rows see. Every
 * attempt is chosen so that success would change nothing that matters: reboot
 * re-sets the Ctrl-Alt-Del mode it reads, kexec_load asks for more segments
 * than the kernel allows, modules are invalid, umount2 uses MNT_EXPIRE on "/"
 * (which the kernel refuses with EINVAL after the permission check), sethostname
 * sets the name already in use, the time calls set nothing or the current time,
 * swapon and acct name paths that do not exist, the TIOCSTI character is read
 * back, file descriptors that open are closed without writing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/perf_event.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif
#ifndef MNT_EXPIRE
#define MNT_EXPIRE 4
#endif

/* Key ids and commands from <linux/keyctl.h>, which not every libc ships. */
#define PROBE_KEY_SPEC_PROCESS_KEYRING (-2)
#define PROBE_KEY_SPEC_USER_KEYRING (-4)
#define PROBE_KEYCTL_GET_KEYRING_ID 0
/* One more than the kernel's KEXEC_SEGMENT_MAX: a permitted call ends in EINVAL. */
#define PROBE_KEXEC_TOO_MANY_SEGMENTS 17
/* FILEID_INO32_GEN: the handle type ext2/3/4 and tmpfs use; inode 2 is ext4's root. */
#define PROBE_FILEID_INO32_GEN 1

enum verdict { OK = 0, FAIL = 1, SKIP = 2 };

/* What a child sends back over its pipe: fixed size, so one read gets it whole. */
struct outcome {
    int verdict;
    char what[480];
};

static pid_t host_pid;
static const char *host_marker;
static char scratch[256];   /* a writable directory of the session, or "" */

static void note(struct outcome *o, const char *format, ...) {
    size_t used = strlen(o->what);
    if (used + 3 >= sizeof o->what) return;
    if (used > 0) { strcat(o->what, "; "); used += 2; }
    va_list ap;
    va_start(ap, format);
    vsnprintf(o->what + used, sizeof o->what - used, format, ap);
    va_end(ap);
}

static const char *ename(int e) {
    const char *name = strerrorname_np(e);
    static char buf[32];
    if (name) return name;
    snprintf(buf, sizeof buf, "errno %d", e);
    return buf;
}

/* Records one call's result: a failure with an errno in `accepted` (0-terminated)
 * is a denial; success or any other errno fails the row. */
static void expect_denied(struct outcome *o, const char *label, long result, int err, const int *accepted) {
    if (result >= 0) {
        note(o, "%s: succeeded", label);
        o->verdict = FAIL;
        return;
    }
    for (const int *a = accepted; *a; a++) {
        if (*a == err) { note(o, "%s: %s", label, ename(err)); return; }
    }
    note(o, "%s: %s (not a denial)", label, ename(err));
    o->verdict = FAIL;
}

#define DENIED(...) ((const int[]){__VA_ARGS__, 0})

static int read_small_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return 0;
}

/* ---- the attempts ---- */

static void try_mount(struct outcome *o) {
    char target[300] = "/tmp";
    if (scratch[0]) snprintf(target, sizeof target, "%s/m", scratch);
    long r = mount("none", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k");
    int e = errno;
    if (r == 0) umount2(target, MNT_DETACH);
    expect_denied(o, "mount tmpfs", r, e, DENIED(EPERM, EACCES));
}

static void try_umount_root(struct outcome *o) {
    long r = umount2("/", MNT_EXPIRE);
    int e = errno;
    if (r < 0 && e == EINVAL) {
        note(o, "umount2(\"/\", MNT_EXPIRE): EINVAL (past the CAP_SYS_ADMIN check)");
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, "umount2(\"/\", MNT_EXPIRE)", r, e, DENIED(EPERM));
}

static void try_unshare_user(struct outcome *o) {
    long r = unshare(CLONE_NEWUSER);
    expect_denied(o, "unshare(CLONE_NEWUSER)", r, errno, DENIED(EPERM));
}

static void try_unshare_mnt(struct outcome *o) {
    long r = unshare(CLONE_NEWNS);
    expect_denied(o, "unshare(CLONE_NEWNS)", r, errno, DENIED(EPERM));
}

/* The namespace flags must be refused on clone and clone3 too, or unshare's
 * denial is only a detour. */
static void try_clone_newuser(struct outcome *o) {
    long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (r == 0) syscall(SYS_exit_group, 0);
    int e = errno;
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    expect_denied(o, "clone(CLONE_NEWUSER)", r, e, DENIED(EPERM));

    struct { uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls; } args;
    memset(&args, 0, sizeof args);
    args.flags = CLONE_NEWUSER;
    args.exit_signal = SIGCHLD;
    r = syscall(SYS_clone3, &args, sizeof args);
    if (r == 0) syscall(SYS_exit_group, 0);
    e = errno;
    if (r > 0) waitpid((pid_t)r, NULL, 0);
    expect_denied(o, "clone3(CLONE_NEWUSER)", r, e, DENIED(ENOSYS, EPERM));
}

static void try_keyring(struct outcome *o) {
    long r = syscall(SYS_add_key, "user", "strata-escape-probe", "x", 1, PROBE_KEY_SPEC_PROCESS_KEYRING);
    expect_denied(o, "add_key", r, errno, DENIED(EPERM));
    r = syscall(SYS_keyctl, PROBE_KEYCTL_GET_KEYRING_ID, PROBE_KEY_SPEC_USER_KEYRING, 0);
    expect_denied(o, "keyctl(GET_KEYRING_ID)", r, errno, DENIED(EPERM));
}

static void try_reboot(struct outcome *o) {
    char value[16] = "";
    /* Asking for the mode already in force makes a permitted call a no-op. */
    int cad_on = read_small_file("/proc/sys/kernel/ctrl-alt-del", value, sizeof value) == 0 && atoi(value) != 0;
    long r = syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                     cad_on ? LINUX_REBOOT_CMD_CAD_ON : LINUX_REBOOT_CMD_CAD_OFF, NULL);
    int e = errno;
    if (r < 0 && e == EINVAL) {
        note(o, "reboot(CAD_%s): EINVAL (CAP_SYS_BOOT held; only the PID namespace stopped it)", cad_on ? "ON" : "OFF");
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, cad_on ? "reboot(CAD_ON)" : "reboot(CAD_OFF)", r, e, DENIED(EPERM));
}

static void try_kexec(struct outcome *o) {
    long r = syscall(SYS_kexec_load, 0UL, (unsigned long)PROBE_KEXEC_TOO_MANY_SEGMENTS, NULL, 0UL);
    int e = errno;
    if (r < 0 && e == EINVAL) {
        note(o, "kexec_load: EINVAL (past the CAP_SYS_BOOT check)");
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, "kexec_load", r, e, DENIED(EPERM, ENOSYS));
}

static void try_modules(struct outcome *o) {
    static const char not_a_module[4] = {0, 0, 0, 0};
    long r = syscall(SYS_init_module, not_a_module, sizeof not_a_module, "");
    expect_denied(o, "init_module", r, errno, DENIED(EPERM, ENOSYS));
    r = syscall(SYS_finit_module, -1, "", 0);
    expect_denied(o, "finit_module", r, errno, DENIED(EPERM, ENOSYS));
}

/* The "shocker" escape: a forged handle opened relative to a host-backed mount. */
static void try_open_by_handle(struct outcome *o) {
    int mount_fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (mount_fd < 0) mount_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    union { struct file_handle handle; char bytes[sizeof(struct file_handle) + MAX_HANDLE_SZ]; } h;
    memset(&h, 0, sizeof h);
    h.handle.handle_bytes = MAX_HANDLE_SZ;
    int mount_id;
    const char *which = "own handle of the probe";
    if (name_to_handle_at(mount_fd, "", &h.handle, &mount_id, AT_EMPTY_PATH) < 0) {
        uint32_t forged[2] = {2, 0};
        h.handle.handle_type = PROBE_FILEID_INO32_GEN;
        h.handle.handle_bytes = sizeof forged;
        memcpy(h.handle.f_handle, forged, sizeof forged);
        which = "forged handle of inode 2";
    }
    long r = open_by_handle_at(mount_fd, &h.handle, O_RDONLY);
    int e = errno;
    char label[80];
    snprintf(label, sizeof label, "open_by_handle_at(%s)", which);
    if (r >= 0) {
        struct stat st;
        fstat((int)r, &st);
        note(o, "%s: opened inode %lu", label, (unsigned long)st.st_ino);
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, label, r, e, DENIED(EPERM));
}

static void try_ptrace_host(struct outcome *o) {
    if (host_pid <= 0) {
        note(o, "no --host-pid given");
        o->verdict = SKIP;
        return;
    }
    /* SEIZE checks exactly what ATTACH checks without stopping the target; a
     * tracee is released when this child exits. */
    long r = ptrace(PTRACE_SEIZE, host_pid, 0, 0);
    char label[64];
    snprintf(label, sizeof label, "ptrace(PTRACE_SEIZE, %d)", (int)host_pid);
    expect_denied(o, label, r, errno, DENIED(ESRCH, EPERM));
}

static void try_sysrq(struct outcome *o) {
    int fd = open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    int e = errno;
    if (fd >= 0) {
        struct stat st;
        fstat(fd, &st);
        if (S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3) {
            note(o, "open for writing: masked with /dev/null");
            close(fd);
            return;
        }
        /* Zero bytes trigger nothing; writing them proves the file takes writes. */
        ssize_t n = write(fd, "", 0);
        note(o, "opened for writing, write of 0 bytes returned %zd (one byte would trigger a SysRq)", n);
        o->verdict = FAIL;
        close(fd);
        return;
    }
    expect_denied(o, "open /proc/sysrq-trigger for writing", -1, e, DENIED(EROFS, EACCES, EPERM, ENOENT));
}

static void try_kcore(struct outcome *o) {
    int fd = open("/proc/kcore", O_RDONLY | O_CLOEXEC);
    int e = errno;
    if (fd >= 0) {
        char head[4];
        ssize_t n = read(fd, head, sizeof head);
        close(fd);
        if (n == 0) { note(o, "open: masked (reads nothing)"); return; }
        note(o, "read %zd bytes of the kernel's memory image", n);
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, "open /proc/kcore", -1, e, DENIED(EPERM, EACCES, ENOENT));
}

/* A device that exists on this machine, so ENXIO cannot stand in for a denial. */
static void host_block_device(unsigned *maj, unsigned *min, char *name, size_t size) {
    *maj = 8; *min = 0;
    snprintf(name, size, "sda (guessed)");
    FILE *f = fopen("/proc/partitions", "re");
    if (!f) return;
    char line[256], dev[64];
    unsigned a, b;
    unsigned long long blocks;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, " %u %u %llu %63s", &a, &b, &blocks, dev) == 4) {
            *maj = a; *min = b;
            snprintf(name, size, "%s", dev);
            break;
        }
    }
    fclose(f);
}

static void try_mknod_block(struct outcome *o) {
    unsigned maj, min;
    char name[80], path[300];
    host_block_device(&maj, &min, name, sizeof name);
    if (scratch[0]) snprintf(path, sizeof path, "%s/blk", scratch);
    else snprintf(path, sizeof path, "/tmp/strata-escape-blk");
    char label[160];
    snprintf(label, sizeof label, "mknod block %u:%u (%s)", maj, min, name);
    if (mknod(path, S_IFBLK | 0600, makedev(maj, min)) < 0) {
        expect_denied(o, label, -1, errno, DENIED(EPERM, EACCES, EROFS));
        return;
    }
    note(o, "%s: created", label);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    int e = errno;
    unlink(path);
    if (fd >= 0) {
        note(o, "open: succeeded, the host's disk is readable");
        o->verdict = FAIL;
        close(fd);
        return;
    }
    expect_denied(o, "open", -1, e, DENIED(EACCES, EPERM));
}

static void try_sys_write(struct outcome *o) {
    static const char *const candidates[] = {
        "/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/mm/ksm/run", "/sys/power/state",
        "/sys/kernel/profiling", "/sys/module/printk/parameters/time", NULL,
    };
    for (const char *const *c = candidates; *c; c++) {
        struct stat st;
        if (stat(*c, &st) < 0) continue;
        /* Opening is where a read-only mount refuses; nothing is written. */
        int fd = open(*c, O_WRONLY | O_CLOEXEC);
        int e = errno;
        char label[120];
        snprintf(label, sizeof label, "open %s for writing", *c);
        if (fd >= 0) {
            note(o, "%s: succeeded (nothing written)", label);
            o->verdict = FAIL;
            close(fd);
            return;
        }
        expect_denied(o, label, -1, e, DENIED(EROFS, EACCES, EPERM));
        return;
    }
    int fd = open("/sys/strata-escape-probe", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int e = errno;
    if (fd >= 0) {
        close(fd);
        unlink("/sys/strata-escape-probe");
    }
    expect_denied(o, "create /sys/strata-escape-probe", fd, e, DENIED(EROFS, EACCES, EPERM, ENOENT));
}

static void try_sethostname(struct outcome *o) {
    char name[256] = "";
    /* The name already in use: a permitted call changes nothing anyone can see. */
    gethostname(name, sizeof name - 1);
    long r = sethostname(name, strlen(name));
    expect_denied(o, "sethostname(its own name)", r, errno, DENIED(EPERM));
}

static int marker_visible(void) {
    struct stat st;
    return host_marker && stat(host_marker, &st) == 0;
}

/* The classic escape: chroot into a subdirectory keeps the working directory
 * outside the new root, so ".." climbs to the top of the mount namespace.
 * It has escaped when "/" afterwards is not the "/" before (device and inode
 * differ) or the host's marker file is visible. */
static void try_chroot_escape(struct outcome *o) {
    struct stat before, after;
    if (stat("/", &before) < 0) { note(o, "stat /: %s", ename(errno)); o->verdict = FAIL; return; }
    if (marker_visible()) {
        note(o, "the host marker %s is visible before any escape: choose a path outside the session", host_marker);
        o->verdict = FAIL;
        return;
    }
    const char *inner = scratch[0] ? scratch : "/proc";
    if (chroot(inner) < 0) {
        expect_denied(o, "chroot", -1, errno, DENIED(EPERM));
        return;
    }
    for (int i = 0; i < 64; i++) {
        if (chdir("..") < 0) break;
    }
    if (chroot(".") < 0) {
        expect_denied(o, "chroot(\".\") after 64 x chdir(\"..\")", -1, errno, DENIED(EPERM));
        return;
    }
    if (stat("/", &after) < 0) { note(o, "stat / after: %s", ename(errno)); o->verdict = FAIL; return; }
    int moved = after.st_dev != before.st_dev || after.st_ino != before.st_ino;
    int marker = marker_visible();
    if (moved || marker) {
        note(o, "escaped: / is %u:%u:%lu (was %u:%u:%lu)%s", major(after.st_dev), minor(after.st_dev),
             (unsigned long)after.st_ino, major(before.st_dev), minor(before.st_dev), (unsigned long)before.st_ino,
             marker ? ", host marker visible" : "");
        o->verdict = FAIL;
        return;
    }
    note(o, "chroot allowed, but 64 x \"..\" ends at the session's own / (%u:%u:%lu)",
         major(after.st_dev), minor(after.st_dev), (unsigned long)after.st_ino);
}

static void try_setns(struct outcome *o) {
    static const char *const kinds[] = {"mnt", "pid", "net", "uts", "ipc", "cgroup", "user", "time", NULL};
    for (const char *const *k = kinds; *k; k++) {
        char path[64], self[64], label[80];
        snprintf(path, sizeof path, "/proc/1/ns/%s", *k);
        snprintf(self, sizeof self, "/proc/self/ns/%s", *k);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == ENOENT) { note(o, "%s: no such namespace here", *k); continue; }
            snprintf(label, sizeof label, "open %s", path);
            expect_denied(o, label, -1, e, DENIED(EACCES, EPERM));
            continue;
        }
        long r = setns(fd, 0);
        int e = errno;
        close(fd);
        snprintf(label, sizeof label, "setns %s", *k);
        struct stat a, b;
        /* Re-entering one's own user namespace is refused before the capability
         * check, by design (it would hand back every capability). */
        if (r < 0 && e == EINVAL && strcmp(*k, "user") == 0 && stat(path, &a) == 0 && stat(self, &b) == 0 &&
            a.st_ino == b.st_ino) {
            note(o, "%s: EINVAL (own user namespace)", label);
            continue;
        }
        expect_denied(o, label, r, e, DENIED(EPERM));
    }
}

static void try_rlimit_nofile(struct outcome *o) {
    struct rlimit now;
    if (getrlimit(RLIMIT_NOFILE, &now) < 0) { note(o, "getrlimit: %s", ename(errno)); o->verdict = FAIL; return; }
    if (now.rlim_max == RLIM_INFINITY) { note(o, "the hard limit is unlimited"); o->verdict = FAIL; return; }
    struct rlimit more = {now.rlim_max + 1, now.rlim_max + 1};
    char label[96];
    snprintf(label, sizeof label, "raise hard limit %llu -> %llu", (unsigned long long)now.rlim_max,
             (unsigned long long)more.rlim_max);
    long r = setrlimit(RLIMIT_NOFILE, &more);
    expect_denied(o, label, r, errno, DENIED(EPERM));
}

static void try_bpf(struct outcome *o) {
    struct bpf_insn insns[2];
    memset(insns, 0, sizeof insns);
    insns[0].code = BPF_ALU64 | BPF_MOV | BPF_K;   /* r0 = 0 */
    insns[1].code = BPF_JMP | BPF_EXIT;
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = 2;
    attr.license = (uint64_t)(uintptr_t)"GPL";
    long r = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
    int e = errno;
    if (r >= 0) close((int)r);
    expect_denied(o, "bpf(BPF_PROG_LOAD)", r, e, DENIED(EPERM));
}

static void try_perf(struct outcome *o) {
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.size = sizeof attr;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    attr.exclude_kernel = 1;
    attr.exclude_hv = 1;
    long r = syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    int e = errno;
    if (r >= 0) close((int)r);
    expect_denied(o, "perf_event_open(self, user only)", r, e, DENIED(EPERM, EACCES));
}

static void try_userfaultfd(struct outcome *o) {
    /* User-mode-only faults pass the kernel's own sysctl, so only a filter refuses. */
    long r = syscall(SYS_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
    int e = errno;
    if (r >= 0) close((int)r);
    expect_denied(o, "userfaultfd(UFFD_USER_MODE_ONLY)", r, e, DENIED(EPERM));
}

static void try_personality(struct outcome *o) {
    long r = syscall(SYS_personality, (unsigned long)(PER_LINUX32 | ADDR_NO_RANDOMIZE));
    expect_denied(o, "personality(PER_LINUX32|ADDR_NO_RANDOMIZE)", r, errno, DENIED(EPERM));
}

static void try_acct(struct outcome *o) {
    long r = syscall(SYS_acct, "/nonexistent-strata-escape-probe/acct");
    int e = errno;
    if (r < 0 && e == ENOENT) {
        note(o, "acct: ENOENT (past the CAP_SYS_PACCT check)");
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, "acct", r, e, DENIED(EPERM));
}

static void try_settime(struct outcome *o) {
    long r = syscall(SYS_settimeofday, NULL, NULL);
    if (r == 0) {
        note(o, "settimeofday(NULL, NULL): succeeded (nothing set); clock_settime not tried");
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, "settimeofday(NULL, NULL)", r, errno, DENIED(EPERM));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    r = clock_settime(CLOCK_REALTIME, &now);
    expect_denied(o, "clock_settime(REALTIME, now)", r, errno, DENIED(EPERM));
}

static void try_swapon(struct outcome *o) {
    long r = syscall(SYS_swapon, "/nonexistent-strata-escape-probe/swap", 0);
    int e = errno;
    if (r < 0 && e == ENOENT) {
        note(o, "swapon: ENOENT (past the CAP_SYS_ADMIN check)");
        o->verdict = FAIL;
        return;
    }
    expect_denied(o, "swapon", r, e, DENIED(EPERM));
}

static void try_ioports(struct outcome *o) {
#if defined(__x86_64__) || defined(__i386__)
    long r = syscall(SYS_ioperm, 0x80UL, 1UL, 1);
    expect_denied(o, "ioperm(0x80)", r, errno, DENIED(EPERM, ENOSYS));
    r = syscall(SYS_iopl, 3);
    expect_denied(o, "iopl(3)", r, errno, DENIED(EPERM, ENOSYS));
#else
    note(o, "no port I/O on this architecture");
    o->verdict = SKIP;
#endif
}

static void try_tiocsti(struct outcome *o) {
    int any = 0;
    for (int fd = 0; fd <= 2; fd++) {
        if (!isatty(fd)) continue;
        any = 1;
        char label[32];
        snprintf(label, sizeof label, "TIOCSTI on fd %d", fd);
        char c = '\n';
        long r = ioctl(fd, TIOCSTI, &c);
        int e = errno;
        if (r == 0) {
            /* Read the injected newline back through a new open file description,
             * so the shared one keeps its flags. */
            char path[32], buf[64];
            snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
            int rd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
            if (rd >= 0) { ssize_t ignored = read(rd, buf, sizeof buf); (void)ignored; close(rd); }
        }
        /* A pty of the session's own devpts is no way out: what is pushed into it
         * is read inside the session (docker run -t behaves the same). */
        struct stat tty, pts;
        if (r == 0 && fstat(fd, &tty) == 0 && stat("/dev/pts", &pts) == 0 && tty.st_dev == pts.st_dev) {
            note(o, "%s: succeeded on the session's own pty (/dev/pts here)", label);
            continue;
        }
        expect_denied(o, label, r, e, DENIED(EPERM, EIO));
    }
    if (!any) { note(o, "no tty on fd 0-2"); o->verdict = SKIP; }
}

/* ---- the table ---- */

struct row {
    const char *name;
    void (*attempt)(struct outcome *);
    const char *expected;
};

static const struct row rows[] = {
    {"mount", try_mount, "EPERM|EACCES (no CAP_SYS_ADMIN; Docker's filter allows mount only with it)"},
    {"umount2", try_umount_root, "EPERM (MNT_EXPIRE on / is EINVAL once permitted, so nothing is unmounted)"},
    {"unshare-user", try_unshare_user, "EPERM (Docker's filter; unprivileged user namespaces are otherwise allowed)"},
    {"unshare-mnt", try_unshare_mnt, "EPERM"},
    {"clone-newuser", try_clone_newuser, "clone: EPERM; clone3: ENOSYS (Docker's answer, libc falls back to clone) or EPERM"},
    {"keyring", try_keyring, "EPERM for add_key and keyctl (not in Docker's allowlist; keys are not namespaced)"},
    {"reboot", try_reboot, "EPERM (no CAP_SYS_BOOT; EINVAL would mean the capability is held)"},
    {"kexec_load", try_kexec, "EPERM; ENOSYS where the kernel has no kexec (EINVAL: permitted)"},
    {"init_module", try_modules, "EPERM; ENOSYS where the kernel has no modules"},
    {"open_by_handle_at", try_open_by_handle, "EPERM (no CAP_DAC_READ_SEARCH)"},
    {"ptrace-host", try_ptrace_host, "ESRCH (not in the PID namespace) or EPERM"},
    {"sysrq-trigger", try_sysrq, "EROFS|EACCES|EPERM|ENOENT on open for writing, or masked by /dev/null"},
    {"kcore", try_kcore, "EPERM|EACCES|ENOENT, or masked (reads 0 bytes)"},
    {"mknod-block", try_mknod_block, "mknod EPERM|EACCES|EROFS, or created but open EACCES (nodev) | EPERM (device cgroup)"},
    {"sys-write", try_sys_write, "EROFS|EACCES|EPERM (read-only /sys)"},
    {"sethostname", try_sethostname, "EPERM"},
    {"chroot-escape", try_chroot_escape, "chroot EPERM, or / unchanged (dev:inode) and host marker invisible"},
    {"setns", try_setns, "EPERM|EACCES for every /proc/1/ns/* (EINVAL for one's own user namespace)"},
    {"rlimit-nofile", try_rlimit_nofile, "EPERM (no CAP_SYS_RESOURCE)"},
    {"bpf", try_bpf, "EPERM"},
    {"perf_event_open", try_perf, "EPERM|EACCES (Docker's filter; perf_event_paranoid<=2 allows it otherwise)"},
    {"userfaultfd", try_userfaultfd, "EPERM (not in Docker's allowlist)"},
    {"personality", try_personality, "EPERM (Docker allows only 0, PER_LINUX32, UNAME26 and the query)"},
    {"acct", try_acct, "EPERM (ENOENT would mean CAP_SYS_PACCT is held)"},
    {"settime", try_settime, "EPERM for settimeofday and clock_settime"},
    {"swapon", try_swapon, "EPERM (ENOENT would mean CAP_SYS_ADMIN is held)"},
    {"iopl", try_ioports, "EPERM; ENOSYS where the kernel has no port I/O syscalls"},
    {"tiocsti", try_tiocsti, "EPERM (setsid: not the controlling tty) or EIO (dev.tty.legacy_tiocsti=0) on every tty fd not of the session's own devpts; skip without a tty"},
};

static void run_row(const struct row *row, int *failed) {
    struct outcome out;
    memset(&out, 0, sizeof out);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        snprintf(out.what, sizeof out.what, "pipe: %s", ename(errno));
        out.verdict = FAIL;
    } else {
        fflush(stdout);
        pid_t child = fork();
        if (child == 0) {
            close(fds[0]);
            alarm(10);
            struct outcome mine;
            memset(&mine, 0, sizeof mine);
            row->attempt(&mine);
            ssize_t ignored = write(fds[1], &mine, sizeof mine);
            (void)ignored;
            _exit(0);
        }
        close(fds[1]);
        if (child < 0) {
            snprintf(out.what, sizeof out.what, "fork: %s", ename(errno));
            out.verdict = FAIL;
        } else {
            ssize_t n;
            do { n = read(fds[0], &out, sizeof out); } while (n < 0 && errno == EINTR);
            int status = 0;
            while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
            if (n != (ssize_t)sizeof out) {
                memset(&out, 0, sizeof out);
                if (WIFSIGNALED(status))
                    snprintf(out.what, sizeof out.what, "the attempt died of signal %d", WTERMSIG(status));
                else
                    snprintf(out.what, sizeof out.what, "the attempt ended without a result (status %d)", status);
                out.verdict = FAIL;
            }
        }
        close(fds[0]);
    }
    out.what[sizeof out.what - 1] = 0;
    for (char *p = out.what; *p; p++) if (*p == '\t' || *p == '\n') *p = ' ';
    static const char *const words[] = {"ok", "FAIL", "skip"};
    printf("%s\t%s\t%s\t%s\n", row->name, words[out.verdict], out.what, row->expected);
    if (out.verdict == FAIL) *failed = 1;
}

static void make_scratch(void) {
    const char *tmpdir = getenv("TMPDIR");
    const char *const bases[] = {tmpdir ? tmpdir : "/tmp", "/tmp", "/dev/shm", "/var/tmp", "/run", NULL};
    for (const char *const *b = bases; *b; b++) {
        char path[sizeof scratch];
        snprintf(path, sizeof path, "%s/strata-escape-XXXXXX", *b);
        if (mkdtemp(path)) {
            memcpy(scratch, path, sizeof scratch);
            char sub[sizeof scratch + 4];
            snprintf(sub, sizeof sub, "%s/m", scratch);
            mkdir(sub, 0700);
            return;
        }
    }
}

static void remove_scratch(void) {
    if (!scratch[0]) return;
    char sub[sizeof scratch + 8];
    snprintf(sub, sizeof sub, "%s/m", scratch);
    rmdir(sub);
    snprintf(sub, sizeof sub, "%s/blk", scratch);
    unlink(sub);
    rmdir(scratch);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--host-pid") == 0 && i + 1 < argc) {
            host_pid = (pid_t)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--host-marker") == 0 && i + 1 < argc) {
            host_marker = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--host-pid PID] [--host-marker PATH]\n", argv[0]);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    make_scratch();
    int failed = 0;
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) run_row(&rows[i], &failed);
    remove_scratch();
    fflush(stdout);
    return failed;
}

#ifndef CSB_USERNS_H
#define CSB_USERNS_H
/*
 * Rootless strata: the whole strata process in a user namespace of its own,
 * entered as the first statement of main, as `podman unshare` does but in
 * process. Unpacking layers with their real owners, mounting overlays in a
 * session's mount namespace and running maintainer scripts need capabilities,
 * and a user namespace is the only place an unprivileged user has them.
 *
 * The mapping is podman's `--userns=keep-id`: the user keeps their own id,
 * so what a session creates as the user belongs to the user on the host, and
 * ids 0..count come from the subordinate range, so an image's root-owned
 * files belong to subuid+0 on the host rather than to the user. Without a
 * range (or without the setuid helpers), only the user's id is mapped, as 0.
 *
 * Linux only; C11.
 */

#ifdef __cplusplus
extern "C" {
#endif

/* One line of /etc/subuid or /etc/subgid, already parsed by the caller (this
 * file reads no configuration). count 0: the user has no range. */
struct csb_id_range {
    unsigned long start;
    unsigned long count;
};

struct csb_userns_request {
    unsigned uid, gid;                  /* the caller's real ids outside (getuid, getgid) */
    struct csb_id_range subuid, subgid; /* count >= 1, or count 0 for none */
    /* Absolute paths of the setuid helpers, or NULL when missing. Only they may
     * map ids other than the caller's own: the kernel lets an unprivileged
     * process map nothing but itself. */
    const char *newuidmap, *newgidmap;
};

enum csb_userns_mode {
    /* The initial user namespace: strata runs as a plain user (or as root). */
    CSB_USERNS_NONE = 0,
    /* Keep-id over the subordinate ranges: the caller is still its own uid and
     * gid inside, chown(2) to any id in 0..count works, setgroups(2) works. */
    CSB_USERNS_FULL = 1,
    /* Only the caller's own ids are mapped, to 0 inside: chown to anything but
     * 0 fails with EINVAL and setgroups(2) with EPERM, so owners must be
     * recorded some other way, and Debian builds cannot be made. */
    CSB_USERNS_SINGLE = 2,
};

/*
 * Where csb_enter_user_namespace stopped or what made it fall back.
 *
 * With a return of 0 and mode SINGLE, a non-zero step says why a FULL mapping
 * that was asked for (both ranges and both helpers given) could not be made;
 * step 0 with mode SINGLE means the request itself asked for SINGLE. With a
 * return of -1, step is the step that failed.
 */
enum csb_userns_step {
    CSB_USERNS_STEP_SOCKET = 1,      /* fallback: no socketpair(2) to talk to the helper (error) */
    CSB_USERNS_STEP_FORK = 2,        /* fallback: the helper could not be forked (error) */
    CSB_USERNS_STEP_UNSHARE = 3,     /* failure: unshare(CLONE_NEWUSER) (error): EPERM where user
                                      * namespaces are restricted, EINVAL with several threads,
                                      * ENOSPC at user.max_user_namespaces */
    CSB_USERNS_STEP_HELPER = 4,      /* fallback: the helper ended without a verdict (helper_status is its own) */
    CSB_USERNS_STEP_NEWUIDMAP = 5,   /* fallback: newuidmap failed (helper_status), or could not be
                                      * started (error); gid_map is the full one */
    CSB_USERNS_STEP_NEWGIDMAP = 6,   /* fallback: the same for newgidmap; uid_map is the full one */
    CSB_USERNS_STEP_NEWIDMAPS = 7,   /* fallback: both failed; helper_status and error are newuidmap's */
    CSB_USERNS_STEP_UID_MAP = 8,     /* failure: writing "0 UID 1" to /proc/self/uid_map (error) */
    CSB_USERNS_STEP_SETGROUPS = 9,   /* failure: writing "deny" to /proc/self/setgroups (error) */
    CSB_USERNS_STEP_GID_MAP = 10,    /* failure: writing "0 GID 1" to /proc/self/gid_map (error) */
};

struct csb_userns_result {
    int mode;          /* enum csb_userns_mode actually set up; always what csb_user_namespace_mode() now says */
    int error;         /* errno of the failure, 0 when there was none */
    int step;          /* enum csb_userns_step, 0 when nothing went wrong */
    int helper_status; /* wait status of the failed newuidmap/newgidmap (or helper), else 0 */
};

/*
 * Moves this process into a new user namespace and maps it (FULL when the
 * request has both ranges and both helpers, SINGLE otherwise), keeping every
 * capability that unshare(2) gives in the new namespace.
 *
 * Must be called while the process has exactly one thread: the kernel refuses
 * unshare(CLONE_NEWUSER) to a multithreaded process (EINVAL), which is why it
 * is the first statement of main, before the Swift runtime starts any thread.
 * Do not call it again when csb_user_namespace_mode() is not NONE: that would
 * nest a second namespace, and the setuid helpers do not work from inside one
 * whose root is not the host's.
 *
 * The helpers must run in the parent user namespace (a setuid program loses
 * its privilege inside ours), so a helper process is forked before unshare and
 * starts newuidmap and newgidmap for our pid in parallel once we are inside.
 * They run with an empty environment, with stdout and stderr on /dev/null, and
 * without this process's fds. Their failure is not fatal: each map that they
 * did not write is completed with the single-id form, mode becomes SINGLE,
 * and step and helper_status say what failed.
 *
 * In FULL mode the process keeps its uid and gid (they map to themselves) and
 * so must never call setresuid to "become root": leaving a non-zero uid for 0
 * is fine, but the capabilities live in the current credentials, and execve
 * by a process whose uid is not 0 inside clears them (capabilities(7)). A
 * child that must keep them sets uid 0 first (setresuid(0, 0, 0) in it), or
 * raises ambient capabilities.
 *
 * The signal mask, the signal dispositions, the working directory and the fds
 * are left as they were (the socket to the helper is close-on-exec and closed
 * before returning); the helper is reaped by pid, so SIGCHLD may have any
 * disposition but SIG_IGN, with which the kernel reaps it for us.
 *
 * Always fills `result`. Returns 0 when the process is in a mapped namespace
 * (result->mode FULL or SINGLE), -1 otherwise: with step UNSHARE the process is
 * still in its old namespace (mode NONE) and may go on as a plain user; with a
 * later step it is in a namespace it could not map and should exit.
 *
 * Ubuntu's kernel.apparmor_restrict_unprivileged_userns (23.10 and later) is
 * reported not to make unshare fail (not seen on the machines strata was
 * built on, which have no AppArmor): the namespace is created but moved to
 * AppArmor's `unprivileged_userns` profile, which denies capabilities in it,
 * so the failure comes later, at the map writes (EPERM, in a namespace that
 * cannot be left) or at the first mount. A caller that wants to go on as a
 * plain user there has to look before calling: the sysctl, or an AppArmor
 * profile granting `userns` to strata, decides it.
 */
int csb_enter_user_namespace(const struct csb_userns_request *request, struct csb_userns_result *result);

/*
 * The mode this process is in, from /proc/self/uid_map and /proc/self/setgroups,
 * so that code far from main (and children after exec) can ask instead of being
 * told: NONE when uid_map is the identity "0 0 4294967295" (the initial
 * namespace) or cannot be read; SINGLE when at most one uid is mapped or
 * setgroups is "deny", since either one brings a limit of single mode (no
 * foreign owners, or no setgroups(2)) and a caller that plans for SINGLE is
 * safe in both; FULL otherwise, which is also what a rootless podman
 * container looks like from inside.
 */
int csb_user_namespace_mode(void);

#ifdef __cplusplus
}
#endif
#endif

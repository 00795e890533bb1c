/*
 * A rootless strata's capabilities across execve.
 *
 * In its own user namespace strata keeps the user's uid (see csb_userns.h), and
 * execve by a process whose uid is not 0 clears its capabilities. The programs
 * strata runs itself (`strata run -d`'s background runner, strata-fetch) must
 * keep them to set up sessions, so they go into the ambient set, which execve
 * keeps. Sessions are unaffected: their command's capabilities are set from the
 * profile and the ambient set is cleared before it runs (command.c).
 */
#include "csandbox.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int csb_keep_capabilities_across_exec(void) {
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &header, data) < 0) return -1;
    /* A capability can be ambient only when it is both permitted and inheritable. */
    data[0].inheritable = data[0].permitted;
    data[1].inheritable = data[1].permitted;
    if (syscall(SYS_capset, &header, data) < 0) return -1;
    for (int cap = 0; cap < 64; cap++) {
        unsigned held = cap < 32 ? data[0].permitted & (1u << cap) : data[1].permitted & (1u << (cap - 32));
        if (!held) continue;
        /* EINVAL: a capability this kernel does not know. */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 && errno != EINVAL) return -1;
    }
    return 0;
}

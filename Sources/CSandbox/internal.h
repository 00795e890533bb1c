#ifndef CSANDBOX_INTERNAL_H
#define CSANDBOX_INTERNAL_H
#include "csandbox.h"

/* What travels over the error pipe: one message per write, well under PIPE_BUF. */
enum csb_message_kind {
    CSB_MSG_SETUP_FAILED = 1,
    CSB_MSG_EXEC_FAILED = 2,
    CSB_MSG_EXITED = 3,
    CSB_MSG_SIGNALED = 4,
};

struct csb_message {
    int kind;
    int step;
    int error;
    int index;
};

/* The host device nodes bind-mounted into the session's /dev. */
extern const char *const csb_device_names[];
extern const int csb_device_count;

/* Docker's masked and read-only paths (moby daemon/pkg/oci/defaults.go),
 * relative to /proc or /sys; the full names are for error messages. */
struct csb_protected_path {
    int under_sys;      /* 0: under /proc, 1: under /sys */
    int read_only;      /* 1: made read-only; 0: masked (hidden) */
    const char *name;   /* relative to /proc or /sys */
    const char *full;   /* absolute, for messages */
};
extern const struct csb_protected_path csb_protected_paths[];
extern const int csb_protected_count;

/* The cloned child: sets up the session and becomes its init. Never returns.
 * With a terminal, the init sends the pseudo-terminal's master over
 * `console_fd` (SCM_RIGHTS) and sizes it to `window` first; otherwise
 * `console_fd` is -1. */
struct winsize;
__attribute__((noreturn)) void csb_child_main(const struct csb_spec *spec, int report_fd, int console_fd,
                                              const struct winsize *window);

#endif

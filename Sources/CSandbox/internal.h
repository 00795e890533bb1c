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

/* The cloned child: sets up the session and becomes its init. Never returns. */
__attribute__((noreturn)) void csb_child_main(const struct csb_spec *spec, int report_fd);

#endif

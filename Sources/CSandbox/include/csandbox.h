#ifndef CSANDBOX_H
#define CSANDBOX_H
/* Filled in by the sandbox work. */
#endif

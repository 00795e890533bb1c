/* Linux calls that Swift's Glibc module does not export: the xattr family
 * (<sys/xattr.h> is not in it), and syncfs(2), pipe2(2), sync_file_range(2) and
 * posix_spawn_file_actions_addchdir_np (declared only under _GNU_SOURCE). */
#include <spawn.h>
#include <sys/xattr.h>
int syncfs(int fd);
int pipe2(int pipefd[2], int flags);
int sync_file_range(int fd, long long offset, long long nbytes, unsigned int flags);
#define STRATA_SYNC_FILE_RANGE_WRITE 2
int posix_spawn_file_actions_addchdir_np(posix_spawn_file_actions_t *actions, const char *path);
/* POSIX_SPAWN_SETSID (glibc >= 2.26), also declared only under _GNU_SOURCE. */
#define STRATA_POSIX_SPAWN_SETSID 0x80
/* glibc >= 2.34, declared only under _GNU_SOURCE: close every descriptor from `from` up in the child. */
int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
/* copy_file_range(2) (glibc >= 2.27), declared only under _GNU_SOURCE. */
long copy_file_range(int fd_in, long long *off_in, int fd_out, long long *off_out, unsigned long len, unsigned int flags);
/* Pseudo-terminals (`strata serve`'s containers with a terminal), declared only under _XOPEN_SOURCE. */
int posix_openpt(int flags);
int grantpt(int fd);
int unlockpt(int fd);
int ptsname_r(int fd, char *buf, unsigned long buflen);

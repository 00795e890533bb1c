/* Linux calls that Swift's Glibc module does not export: the xattr family
 * (<sys/xattr.h> is not in it), and syncfs(2) and pipe2(2) (declared only
 * under _GNU_SOURCE). */
#include <sys/xattr.h>
int syncfs(int fd);
int pipe2(int pipefd[2], int flags);

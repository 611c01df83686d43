/* Running the built programs from a test: run("%s info %s", ORL, path) formats a shell command
 * (at most 8191 bytes), runs it with system() and returns its exit status, or -1 when it did
 * not exit normally (a signal). Include in one file per test binary. */
#ifndef ORL_TESTS_SHELL_H
#define ORL_TESTS_SHELL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

__attribute__((format(printf, 1, 2))) static int run(const char *fmt, ...) {
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

#endif

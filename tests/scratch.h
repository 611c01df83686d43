/* Scratch file paths for a test binary: scratch("x.h5") is SCRATCH_DIR/x.h5, the directory
 * made on first use. Define SCRATCH_DIR (a directory under ORL_BINARY_DIR, one per binary)
 * before including this in one file. Eight paths can be live at once. */
#ifndef ORL_TESTS_SCRATCH_H
#define ORL_TESTS_SCRATCH_H

#include <stdio.h>
#include <sys/stat.h>

static const char *scratch(const char *name) {
    static char paths[8][4096];
    static int next;
    mkdir(SCRATCH_DIR, 0755);
    char *p = paths[next++ % 8];
    snprintf(p, 4096, "%s/%s", SCRATCH_DIR, name);
    return p;
}

#endif

/* Shared by the libFuzzer harnesses (scripts/fuzz.sh): the readers take paths, so each input
 * is written to a file in a per-process directory under /dev/shm (memory, no disk) first. */
#ifndef ORL_FUZZ_COMMON_H
#define ORL_FUZZ_COMMON_H

#include "orl/orl.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* the input as a file named name (its suffix can matter: .jsonl, .sqlite) in a directory of
 * this process; returns the path (static storage) or NULL when it cannot be written */
static inline const char *fuzz_file(const char *name, const uint8_t *data, size_t size) {
    static char dir[256], path[512];
    if (!dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(dir, sizeof dir, "%s/orl-fuzz-%ld", base, (long)getpid());
        orl_fs_remove(dir);
        if (mkdir(dir, 0700) != 0) return NULL;
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return NULL;
    size_t put = size ? fwrite(data, 1, size, f) : 0;
    int ok = fclose(f) == 0 && put == size;
    return ok ? path : NULL;
}

/* libhdf5 keeps some of its own allocations on its error paths over corrupt files until exit
 * (tests/lsan_hdf5.h): not ours to report */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libhdf5\n"; }

/* what every harness asserts of a failed call: a status in range and a message */
static void fuzz_check_status(orl_status st) {
    if (st == ORL_OK) return;
    if ((unsigned)st >= ORL_STATUS_COUNT) abort();
    const char *msg = orl_error_message();
    if (!msg || !msg[0]) abort(); /* every failure names what went wrong */
}

#endif

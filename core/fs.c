/* Temporary names, atomic renames, recursive removal and sizes. POSIX only. */
#include "orl/fs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_int temp_counter;

/* the temporaries this process named and has not committed or removed, for
 * orl_fs_remove_temporaries; best effort: names beyond TEMP_SLOTS are not tracked */
#define TEMP_SLOTS 32
#define TEMP_CAP   4096
static char temp_path[TEMP_SLOTS][TEMP_CAP];
static atomic_int temp_state[TEMP_SLOTS]; /* 0 free, 1 being written, 2 tracked */

static void track(const char *tmp) {
    size_t n = strlen(tmp);
    if (n >= TEMP_CAP) return;
    for (int i = 0; i < TEMP_SLOTS; i++) {
        int expect = 0;
        if (atomic_compare_exchange_strong(&temp_state[i], &expect, 1)) {
            memcpy(temp_path[i], tmp, n + 1);
            atomic_store(&temp_state[i], 2);
            return;
        }
    }
}

static void untrack(const char *path) {
    for (int i = 0; i < TEMP_SLOTS; i++) {
        int expect = 2;
        if (atomic_load(&temp_state[i]) == 2 && strcmp(temp_path[i], path) == 0 &&
            atomic_compare_exchange_strong(&temp_state[i], &expect, 1))
            atomic_store(&temp_state[i], 0);
    }
}

void orl_fs_remove_temporaries(void) {
    static const char *const companion[] = {"", "-journal", "-wal", "-shm"};
    char name[TEMP_CAP + 16];
    for (int i = 0; i < TEMP_SLOTS; i++) {
        if (atomic_load(&temp_state[i]) != 2) continue;
        size_t n = strlen(temp_path[i]);
        for (size_t c = 0; c < sizeof companion / sizeof *companion; c++) {
            size_t m = strlen(companion[c]);
            memcpy(name, temp_path[i], n);
            memcpy(name + n, companion[c], m + 1);
            unlink(name);
        }
    }
}

/* this host's name, made safe for a file name ("host" when unknown) */
static void host_name(char *out, size_t cap) {
    char name[256] = "";
    if (gethostname(name, sizeof name - 1) != 0 || !name[0]) snprintf(name, sizeof name, "host");
    size_t n = 0;
    for (const char *c = name; *c && n + 1 < cap && n < 32; c++)
        out[n++] = isalnum((unsigned char)*c) || *c == '.' || *c == '_' ? *c : '_';
    out[n] = '\0';
}

/* removes dir's entries "<prefix><pid>-..." whose process pid is gone (prefix ends in '-') */
static void remove_stale(const char *dir, const char *prefix) {
    DIR *d = opendir(dir[0] ? dir : ".");
    if (!d) return;
    size_t plen = strlen(prefix);
    char victim[4096];
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, prefix, plen) != 0) continue;
        char *end = NULL;
        errno = 0;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (errno || end == e->d_name + plen || *end != '-' || pid <= 0) continue;
        if (pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        int n = snprintf(victim, sizeof victim, "%s%s", dir, e->d_name);
        if (n > 0 && (size_t)n < sizeof victim) orl_fs_remove(victim);
    }
    closedir(d);
}

orl_status orl_fs_temp_name(const char *path, char *tmp, size_t cap) {
    const char *slash = strrchr(path, '/');
    int dir_len = slash ? (int)(slash - path + 1) : 0;
    const char *base = slash ? slash + 1 : path;
    char host[40], dir[4096], prefix[512];
    host_name(host, sizeof host);
    int n = snprintf(tmp, cap, "%.*s.%s.tmp-%s-%ld-%d", dir_len, path, base, host, (long)getpid(),
                     atomic_fetch_add(&temp_counter, 1));
    if (n < 0 || (size_t)n >= cap) ORL_FAIL(ORL_ERR_INPUT, "%s: path too long", path);
    int nd = snprintf(dir, sizeof dir, "%.*s", dir_len, path);
    int np = snprintf(prefix, sizeof prefix, ".%s.tmp-%s-", base, host);
    if (nd >= 0 && (size_t)nd < sizeof dir && np > 0 && (size_t)np < sizeof prefix)
        remove_stale(dir, prefix);
    track(tmp);
    return ORL_OK;
}

orl_status orl_fs_commit(const char *tmp, const char *path) {
    if (orl_fs_is_dir(tmp) && orl_fs_is_dir(path)) {
        /* rename(2) replaces only an empty directory: move the old one out of the way */
        char old[4096];
        ORL_TRY(orl_fs_temp_name(path, old, sizeof old));
        if (rename(path, old) != 0)
            ORL_FAIL(ORL_ERR_IO, "%s: cannot replace: %s", path, strerror(errno));
        if (rename(tmp, path) != 0) {
            int err = errno;
            rename(old, path);
            ORL_FAIL(ORL_ERR_IO, "%s: cannot rename from %s: %s", path, tmp, strerror(err));
        }
        orl_fs_remove(old);
        untrack(tmp);
        return ORL_OK;
    }
    if (rename(tmp, path) != 0)
        ORL_FAIL(ORL_ERR_IO, "%s: cannot rename from %s: %s", path, tmp, strerror(errno));
    untrack(tmp);
    return ORL_OK;
}

void orl_fs_remove(const char *path) {
    untrack(path);
    struct stat st;
    if (lstat(path, &st) != 0) return;
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *e;
            char child[4096];
            while ((e = readdir(d)) != NULL) {
                if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
                snprintf(child, sizeof child, "%s/%s", path, e->d_name);
                orl_fs_remove(child);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

int orl_fs_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

int orl_fs_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int64_t orl_fs_size(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) return (int64_t)st.st_size;
    int64_t total = 0;
    DIR *d = opendir(path);
    if (!d) return -1;
    struct dirent *e;
    char child[4096];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        int64_t s = orl_fs_size(child);
        if (s > 0) total += s;
    }
    closedir(d);
    return total;
}

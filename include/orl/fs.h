/* Files written whole or not at all.
 *
 * Outputs go to a temporary name beside the final one and are renamed into place when
 * complete, so a failed or interrupted write never leaves a partial file under the final name. */
#ifndef ORL_FS_H
#define ORL_FS_H

#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

/* writes into tmp (size cap) a temporary name in the same directory as path:
 * "dir/.name.tmp-<host>-<pid>-<n>". First removes what a killed writer of path on this host
 * left behind: every "dir/.name.tmp-<host>-<pid>-..." (files, SQLite's -wal/-journal
 * companions, directories) whose process no longer exists. Writers on other hosts (a shared
 * file system) are left alone. */
orl_status orl_fs_temp_name(const char *path, char *tmp, size_t cap);

/* removes every temporary file this process named with orl_fs_temp_name and has not yet
 * committed or removed (with SQLite's -journal and -wal companions). Async-signal-safe (unlink
 * only), for a fatal-signal handler: a crashed writer leaves no partial output behind. */
void orl_fs_remove_temporaries(void);

/* renames tmp to path (replacing it); for a directory, path must not exist or be empty */
orl_status orl_fs_commit(const char *tmp, const char *path);

/* removes a file or a directory tree; a missing path is not an error */
void orl_fs_remove(const char *path);

/* 1 if path exists, 0 if not */
int orl_fs_exists(const char *path);

/* 1 if path is a directory */
int orl_fs_is_dir(const char *path);

/* size in bytes of a file, or of all files under a directory; -1 if missing */
int64_t orl_fs_size(const char *path);

#endif

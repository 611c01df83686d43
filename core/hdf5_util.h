/* What every HDF5 user in orl shares: silencing HDF5's own error printing, the innermost
 * message of the error stack for our messages, and closing ids. Internal: HDF5 types never
 * appear in include/orl/. */
#ifndef ORL_CORE_HDF5_UTIL_H
#define ORL_CORE_HDF5_UTIL_H

#include <hdf5.h>
#include <stddef.h>

/* turns HDF5's automatic error printing off on the calling thread (the library prints nothing) */
void orl_hdf5_quiet(void);

/* the innermost message of this thread's HDF5 error stack, written into buf (cap); call right
 * after the failing call. Returns buf. */
const char *orl_hdf5_detail(char *buf, size_t cap);

/* H5Fopen(path, read-only, fapl), noting path as a file being read until
 * orl_hdf5_close_read(file): libhdf5 does not checksum most of its metadata and can crash on a
 * corrupt file, and a fatal-signal handler can then name the file (orl_hdf5_reading) */
hid_t orl_hdf5_open_read(const char *path, hid_t fapl);

/* closes a file opened by orl_hdf5_open_read (if valid) and marks it invalid */
void orl_hdf5_close_read(hid_t *file);

/* the most recently opened of the HDF5 files still open for reading, or NULL;
 * async-signal-safe */
const char *orl_hdf5_reading(void);

/* closes *id with close_fn if it is valid and marks it invalid */
void orl_hdf5_close_id(hid_t *id, herr_t (*close_fn)(hid_t));

#endif

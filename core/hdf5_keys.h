/* Files of named keys at the root of an HDF5 file (policy files, model files): 1-D numeric
 * datasets and fixed-length UTF-8 string attributes. A file is written whole to a temporary
 * name, in the HDF5 1.8 format (so object headers carry checksums and a corrupt file fails to
 * open rather than crash HDF5), and renamed into place when complete; reading checks every key
 * it reads (class, rank, length, size) and names the file and the key in each failure.
 * Internal: HDF5 types never appear in include/orl/. */
#ifndef ORL_CORE_HDF5_KEYS_H
#define ORL_CORE_HDF5_KEYS_H

#include "orl/status.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#define ORL_HDF5_MAX_ELEMENTS ((int64_t)1 << 31) /* values in one key */
#define ORL_HDF5_MAX_TEXT     65536              /* bytes of a text key, NUL included */

/* an open file and the name to report in messages (the final name when writing) */
typedef struct orl_hdf5_keys {
    hid_t file;
    const char *path;
} orl_hdf5_keys;

/* writes path: fill(keys, ctx) puts the keys into a temporary file, renamed to path when fill
 * and the close succeed, removed otherwise */
orl_status orl_hdf5_keys_write(const char *path,
                               orl_status (*fill)(orl_hdf5_keys *keys, const void *ctx),
                               const void *ctx);

/* opens path for reading (noted for orl_hdf5_reading until orl_hdf5_keys_close); a missing
 * file is ORL_ERR_IO, one HDF5 cannot open ORL_ERR_FORMAT */
orl_status orl_hdf5_keys_open(const char *path, orl_hdf5_keys *keys);
void orl_hdf5_keys_close(orl_hdf5_keys *keys);

/* dataset key of n values, stored as ftype, from memory of type mtype */
orl_status orl_hdf5_put_array(orl_hdf5_keys *k, const char *key, hid_t ftype, hid_t mtype,
                              const void *x, int64_t n);
/* a fixed-length UTF-8 string attribute: it lives in the checksummed object header, where a
 * variable-length one would sit in the global heap, read without a checksum */
orl_status orl_hdf5_put_text(orl_hdf5_keys *k, const char *key, const char *text);

/* the length of dataset key, a 1-D array of numbers (float or integer) */
orl_status orl_hdf5_array_length(orl_hdf5_keys *k, const char *key, int64_t *n);
/* reads dataset key, a 1-D array of exactly n numbers of class want (H5T_FLOAT, H5T_INTEGER),
 * into x as mtype; integers are converted with range checks (out of range fails the read) */
orl_status orl_hdf5_get_array(orl_hdf5_keys *k, const char *key, H5T_class_t want, hid_t mtype,
                              void *x, int64_t n);
/* reads the fixed-length string attribute key into out (cap bytes, NUL included) */
orl_status orl_hdf5_get_text(orl_hdf5_keys *k, const char *key, char *out, size_t cap);

#endif

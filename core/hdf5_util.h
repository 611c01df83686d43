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

/* closes *id with close_fn if it is valid and marks it invalid */
void orl_hdf5_close_id(hid_t *id, herr_t (*close_fn)(hid_t));

#endif

/* Files of named keys at an HDF5 root (core/hdf5_keys.h): policy files and model files. */
#include "core/hdf5_keys.h"
#include "core/hdf5_util.h"
#include "orl/fs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- whole files ---- */

orl_status orl_hdf5_keys_write(const char *path,
                               orl_status (*fill)(orl_hdf5_keys *keys, const void *ctx),
                               const void *ctx) {
    orl_hdf5_quiet();
    char tmp[4096], why[256];
    ORL_TRY(orl_fs_temp_name(path, tmp, sizeof tmp));
    orl_hdf5_keys k = {H5I_INVALID_HID, path};
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0) H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST);
    k.file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl >= 0 ? fapl : H5P_DEFAULT);
    orl_hdf5_close_id(&fapl, H5Pclose);
    if (k.file < 0)
        ORL_FAIL(ORL_ERR_IO, "%s: cannot create %s (%s)", path, tmp,
                 orl_hdf5_detail(why, sizeof why));
    orl_status st = fill(&k, ctx);
    if (H5Fclose(k.file) < 0 && st == ORL_OK)
        st = orl_error_set(ORL_ERR_IO, "%s: cannot finish %s (%s)", path, tmp,
                           orl_hdf5_detail(why, sizeof why));
    if (st == ORL_OK) st = orl_fs_commit(tmp, path);
    if (st != ORL_OK) orl_fs_remove(tmp);
    return st;
}

orl_status orl_hdf5_keys_open(const char *path, orl_hdf5_keys *k) {
    k->file = H5I_INVALID_HID;
    k->path = path;
    orl_hdf5_quiet();
    FILE *probe = fopen(path, "rb");
    if (!probe) ORL_FAIL(ORL_ERR_IO, "%s: cannot open for reading", path);
    fclose(probe);
    char why[256];
    k->file = orl_hdf5_open_read(path, H5P_DEFAULT);
    if (k->file < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: not a readable HDF5 file, truncated or corrupt (%s)", path,
                 orl_hdf5_detail(why, sizeof why));
    return ORL_OK;
}

void orl_hdf5_keys_close(orl_hdf5_keys *k) {
    orl_hdf5_close_read(&k->file);
}

/* ---- writing keys ---- */

orl_status orl_hdf5_put_array(orl_hdf5_keys *f, const char *key, hid_t ftype, hid_t mtype,
                              const void *x, int64_t n) {
    if (n < 0 || n > ORL_HDF5_MAX_ELEMENTS)
        ORL_FAIL(ORL_ERR_INPUT, "%s: key '%s': %lld elements", f->path, key, (long long)n);
    char why[256];
    hsize_t dims = (hsize_t)n;
    hid_t space = H5Screate_simple(1, &dims, NULL);
    hid_t dset = space >= 0
                     ? H5Dcreate2(f->file, key, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                     : H5I_INVALID_HID;
    herr_t e = dset >= 0 ? 0 : -1;
    if (e >= 0 && n > 0) e = H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, x);
    orl_status st = ORL_OK;
    if (e < 0)
        st = orl_error_set(ORL_ERR_IO, "%s: cannot write key '%s' (%s)", f->path, key,
                           orl_hdf5_detail(why, sizeof why));
    orl_hdf5_close_id(&dset, H5Dclose);
    orl_hdf5_close_id(&space, H5Sclose);
    return st;
}

orl_status orl_hdf5_put_text(orl_hdf5_keys *f, const char *key, const char *text) {
    size_t len = strlen(text);
    if (len + 1 > ORL_HDF5_MAX_TEXT)
        ORL_FAIL(ORL_ERR_INPUT, "%s: key '%s': text of %zu bytes (at most %d)", f->path, key, len,
                 ORL_HDF5_MAX_TEXT - 1);
    char why[256];
    hid_t t = H5Tcopy(H5T_C_S1);
    herr_t e = t >= 0 ? H5Tset_size(t, len + 1) : -1;
    if (e >= 0) e = H5Tset_strpad(t, H5T_STR_NULLTERM);
    if (e >= 0) e = H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t space = e >= 0 ? H5Screate(H5S_SCALAR) : H5I_INVALID_HID;
    hid_t attr =
        space >= 0 ? H5Acreate2(f->file, key, t, space, H5P_DEFAULT, H5P_DEFAULT) : H5I_INVALID_HID;
    e = attr >= 0 ? H5Awrite(attr, t, text) : -1;
    orl_status st = ORL_OK;
    if (e < 0)
        st = orl_error_set(ORL_ERR_IO, "%s: cannot write key '%s' (%s)", f->path, key,
                           orl_hdf5_detail(why, sizeof why));
    orl_hdf5_close_id(&attr, H5Aclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_hdf5_close_id(&t, H5Tclose);
    return st;
}

/* ---- reading keys ---- */

/* opens dataset key as a 1-D numeric array of the given class; *n its length */
static orl_status open_array(orl_hdf5_keys *f, const char *key, H5T_class_t want, hid_t *dset,
                             int64_t *n) {
    *dset = H5I_INVALID_HID;
    *n = 0;
    if (H5Lexists(f->file, key, H5P_DEFAULT) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    char why[256];
    hid_t d = H5Dopen2(f->file, key, H5P_DEFAULT);
    if (d < 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is not a readable dataset (%s)", f->path, key,
                 orl_hdf5_detail(why, sizeof why));
    hid_t type = H5Dget_type(d), space = H5Dget_space(d);
    H5T_class_t c = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    size_t size = type >= 0 ? H5Tget_size(type) : 0;
    int rank = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    hsize_t dims = 0;
    if (rank == 1) H5Sget_simple_extent_dims(space, &dims, NULL);
    orl_hdf5_close_id(&type, H5Tclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_status st = ORL_OK;
    if (c != want || size == 0 || size > 8)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected %s numbers", f->path, key,
                           want == H5T_FLOAT ? "float" : "integer");
    else if (rank != 1 || dims > (hsize_t)ORL_HDF5_MAX_ELEMENTS)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected a 1-D array, got rank %d",
                           f->path, key, rank);
    if (st != ORL_OK) {
        H5Dclose(d);
        return st;
    }
    *dset = d;
    *n = (int64_t)dims;
    return ORL_OK;
}

orl_status orl_hdf5_array_length(orl_hdf5_keys *f, const char *key, int64_t *n) {
    hid_t d;
    if (H5Lexists(f->file, key, H5P_DEFAULT) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    /* either numeric class */
    orl_status st = open_array(f, key, H5T_FLOAT, &d, n);
    if (st != ORL_OK) st = open_array(f, key, H5T_INTEGER, &d, n);
    if (st != ORL_OK) return st;
    H5Dclose(d);
    return ORL_OK;
}

orl_status orl_hdf5_get_array(orl_hdf5_keys *f, const char *key, H5T_class_t want, hid_t mtype,
                              void *x, int64_t n) {
    hid_t d;
    int64_t got;
    ORL_TRY(open_array(f, key, want, &d, &got));
    orl_status st = ORL_OK;
    char why[256];
    if (got != n)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': expected %lld values, got %lld", f->path,
                           key, (long long)n, (long long)got);
    else if (n > 0 && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) < 0)
        st = orl_error_set(ORL_ERR_FORMAT, "%s: key '%s': cannot read (%s)", f->path, key,
                           orl_hdf5_detail(why, sizeof why));
    H5Dclose(d);
    return st;
}

orl_status orl_hdf5_get_text(orl_hdf5_keys *f, const char *key, char *out, size_t cap) {
    out[0] = '\0';
    if (H5Aexists(f->file, key) <= 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key '%s' is missing", f->path, key);
    char why[256];
    hid_t attr = H5Aopen(f->file, key, H5P_DEFAULT);
    hid_t ftype = attr >= 0 ? H5Aget_type(attr) : H5I_INVALID_HID;
    hid_t space = attr >= 0 ? H5Aget_space(attr) : H5I_INVALID_HID;
    hid_t mtype = H5I_INVALID_HID;
    char *buf = NULL;
    orl_status st = ORL_OK;
    hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    /* fixed-length strings only: a variable-length one would be read from the unchecksummed
     * global heap */
    if (ftype < 0 || H5Tget_class(ftype) != H5T_STRING || points != 1 ||
        H5Tis_variable_str(ftype) != 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                      "%s: key '%s': expected one fixed-length string (variable-length strings, "
                      "h5py's default for str, are not read: store numpy.bytes_)",
                      f->path, key);
    size_t size = H5Tget_size(ftype);
    if (size == 0 || size > ORL_HDF5_MAX_TEXT)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': string of %zu bytes", f->path, key,
                      size);
    buf = calloc(size + 1, 1);
    if (!buf) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "%s: key '%s'", f->path, key);
    mtype = H5Tcopy(H5T_C_S1);
    if (mtype < 0 || H5Tset_size(mtype, size) < 0 || H5Tset_strpad(mtype, H5T_STR_NULLPAD) < 0 ||
        H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 || H5Aread(attr, mtype, buf) < 0)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': cannot read (%s)", f->path, key,
                      orl_hdf5_detail(why, sizeof why));
    if (strlen(buf) + 1 > cap)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT, "%s: key '%s': text of %zu bytes (at most %zu)",
                      f->path, key, strlen(buf), cap - 1);
    memcpy(out, buf, strlen(buf) + 1);
done:
    free(buf);
    orl_hdf5_close_id(&mtype, H5Tclose);
    orl_hdf5_close_id(&space, H5Sclose);
    orl_hdf5_close_id(&ftype, H5Tclose);
    orl_hdf5_close_id(&attr, H5Aclose);
    return st;
}

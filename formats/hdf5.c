/* d4rl back-end (being written). */
#include "formats/internal.h"

orl_status orl_d4rl_reader_open(orl_reader *r, const orl_read_options *opt) {
    (void)opt;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: d4rl layout not available yet", r->path);
}

orl_status orl_d4rl_writer_open(orl_writer *w, const orl_write_options *opt) {
    (void)opt;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: d4rl layout not available yet", w->path);
}

orl_status orl_d3rlpy_reader_open(orl_reader *r, const orl_read_options *opt) {
    (void)opt;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: d3rlpy layout not available yet", r->path);
}

int orl_hdf5_has_key(const char *path, const char *key) {
    (void)path;
    (void)key;
    return 0;
}

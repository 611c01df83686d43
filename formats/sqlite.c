/* sqlite back-end (being written). */
#include "formats/internal.h"

orl_status orl_sqlite_reader_open(orl_reader *r, const orl_read_options *opt) {
    (void)opt;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: sqlite layout not available yet", r->path);
}

orl_status orl_sqlite_writer_open(orl_writer *w, const orl_write_options *opt) {
    (void)opt;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "%s: sqlite layout not available yet", w->path);
}

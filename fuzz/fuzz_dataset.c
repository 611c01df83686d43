/* libFuzzer harness: dataset files of every layout the readers sniff (D4RL HDF5, d3rlpy, Minari
 * HDF5, SQLite) through orl_dataset_read and orl_summarize. The first input byte picks the
 * file's name (its suffix decides what is tried first). */
#include "fuzz/fuzz_common.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *name = data[0] & 1 ? "data.sqlite" : "data.h5";
    const char *path = fuzz_file(name, data + 1, size - 1);
    if (!path) return 0;
    orl_read_options ro = {.block_rows = 3};
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_read(path, &ro, NULL, &ds);
    fuzz_check_status(st);
    if (st == ORL_OK && orl_dataset_validate(ds) != ORL_OK) abort(); /* a reader gave bad data */
    orl_dataset_free(ds);
    orl_summary sum;
    st = orl_summarize(path, NULL, NULL, &sum);
    fuzz_check_status(st);
    if (st == ORL_OK) orl_summary_free(&sum);
    return 0;
}

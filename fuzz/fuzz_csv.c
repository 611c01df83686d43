/* libFuzzer harness: CSV/TSV logs through orl_ingest_dataset with a fixed mapping (columns
 * o0, o1, a, r, ep, done, to, lp); the seed corpus holds logs with that header. */
#include "fuzz/fuzz_common.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("log.csv", data, size);
    if (!path) return 0;
    orl_ingest_options opt;
    orl_ingest_options_init(&opt);
    orl_ingest_map_set(&opt, "obs", "o*");
    orl_ingest_map_set(&opt, "act", "a");
    orl_ingest_map_set(&opt, "reward", "r");
    orl_ingest_map_set(&opt, "episode", "ep");
    orl_ingest_map_set(&opt, "terminal", "done");
    orl_ingest_map_set(&opt, "format", "csv");
    if (size > 0 && data[0] == 'T') orl_ingest_map_set(&opt, "on_nan", "drop-episode");
    opt.block_rows = 7; /* small blocks: episodes span them */
    orl_dataset *ds = NULL;
    const char *logs[] = {path};
    orl_status st = orl_ingest_dataset(logs, 1, &opt, NULL, &ds, NULL);
    fuzz_check_status(st);
    if (st == ORL_OK && orl_dataset_validate(ds) != ORL_OK) abort(); /* ingest gave bad data */
    orl_dataset_free(ds);
    return 0;
}

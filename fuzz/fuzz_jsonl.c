/* libFuzzer harness: JSON Lines logs through orl_ingest_dataset with a mapping that reaches
 * into nested objects and arrays (obs.q, act, reward, episode, done, logp). */
#include "fuzz/fuzz_common.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_file("log.jsonl", data, size);
    if (!path) return 0;
    orl_ingest_options opt;
    orl_ingest_options_init(&opt);
    orl_ingest_map_set(&opt, "obs", "obs.q,obs.v");
    orl_ingest_map_set(&opt, "act", "act");
    orl_ingest_map_set(&opt, "reward", "reward");
    orl_ingest_map_set(&opt, "episode", "episode");
    orl_ingest_map_set(&opt, "terminal", "done");
    orl_ingest_map_set(&opt, "logp", "logp");
    opt.block_rows = 5;
    orl_dataset *ds = NULL;
    const char *logs[] = {path};
    orl_status st = orl_ingest_dataset(logs, 1, &opt, NULL, &ds, NULL);
    fuzz_check_status(st);
    if (st == ORL_OK && orl_dataset_validate(ds) != ORL_OK) abort();
    orl_dataset_free(ds);
    return 0;
}

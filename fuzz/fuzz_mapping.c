/* libFuzzer harness: mapping files (orl_ingest_map_load), then the mapping applied to a small
 * fixed CSV log so the parsed patterns meet a real header. */
#include "fuzz/fuzz_common.h"

#include <string.h>

static const char log_text[] = "t,ep,o0,o1,a0,a1,r,done\n0,1,0.5,1,0,1,1,0\n1,1,0.25,2,1,0,1,1\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char log_path[512];
    if (!log_path[0]) {
        const char *p = fuzz_file("fixed.csv", (const uint8_t *)log_text, strlen(log_text));
        if (!p) return 0;
        snprintf(log_path, sizeof log_path, "%s", p);
    }
    const char *path = fuzz_file("log.map", data, size);
    if (!path) return 0;
    orl_ingest_options opt;
    orl_ingest_options_init(&opt);
    orl_status st = orl_ingest_map_load(path, &opt);
    fuzz_check_status(st);
    if (st != ORL_OK) return 0;
    opt.write.append = 0;
    orl_dataset *ds = NULL;
    const char *logs[] = {log_path};
    st = orl_ingest_dataset(logs, 1, &opt, NULL, &ds, NULL);
    fuzz_check_status(st);
    if (st == ORL_OK && orl_dataset_validate(ds) != ORL_OK) abort();
    orl_dataset_free(ds);
    return 0;
}

/* libFuzzer harness: benchmark suite files (orl bench's JSON) through orl_bench_suite_parse,
 * which expands them into the run list (no file is read or written: datasets are only named). */
#include "fuzz/fuzz_common.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    orl_bench_suite *s = NULL;
    orl_status st = orl_bench_suite_parse(text, "/nonexistent-base", &s);
    fuzz_check_status(st);
    if (st == ORL_OK && (s->n_jobs < 0 || s->n_datasets < 0 || s->n_learners < 0)) abort();
    orl_bench_suite_free(s);
    free(text);
    return 0;
}

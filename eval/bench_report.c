/* stub */
#include "orl/bench.h"
void orl_bench_report_options_init(orl_bench_report_options *opt) {
    opt->reps = 2000;
    opt->seed = 0;
    opt->level = 0.95;
    opt->times = 1;
    opt->plots = 1;
}
orl_status orl_bench_report(const char *dir, const orl_bench_report_options *opt,
                            orl_bench_report_summary *out) {
    (void)dir; (void)opt; (void)out;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "report: not yet");
}
orl_status orl_bench_compare(const char *dir_a, const char *dir_b,
                             const orl_bench_report_options *opt, char **text,
                             int32_t *regressions) {
    (void)dir_a; (void)dir_b; (void)opt; (void)text; (void)regressions;
    ORL_FAIL(ORL_ERR_UNSUPPORTED, "compare: not yet");
}

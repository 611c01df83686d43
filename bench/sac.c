/* bench/sac: online SAC at full size (2x256, batch 256, the reference hyperparameters of
 * algorithms/sac.c) in one environment, single-threaded BLAS unless OPENBLAS_NUM_THREADS says
 * otherwise; the regression of the learner and its speed.
 *
 *   bench/sac [ENV [STEPS [WARMUP [SEED]]]]     defaults: Pendulum-v1 15000 5000 0
 *
 * Prints one JSON object per evaluation (every STEPS/15 steps, 10 episodes in mean mode) and a
 * summary: the last evaluation's return and normalised score, whether Pendulum-v1 reached the
 * builtin expert's score (-153.0), environment steps per CPU second, and the CPU shares of
 * physics (environment steps and resets), acting and updates (the thread's CPU clock). */
#include "orl/eval.h"
#include "orl/online.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    orl_online_options o;
    orl_online_options_init(&o);
    o.env_id = argc > 1 ? argv[1] : "Pendulum-v1";
    o.steps = argc > 2 ? atoll(argv[2]) : 15000;
    o.warmup = argc > 3 ? atoll(argv[3]) : 5000;
    o.seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 0;
    o.eval_env = o.env_id;
    o.eval_every = o.steps / 15 > 0 ? o.steps / 15 : 1;
    o.log_every = o.eval_every;
    char log_path[] = "/tmp/orl_bench_sac_XXXXXX";
    int fd = mkstemp(log_path);
    if (fd < 0) return 1;
    o.log_path = log_path;
    orl_policy *p = NULL;
    orl_online_result r;
    orl_status st = orl_online_train(&o, &p, &r);
    if (st != ORL_OK) {
        fprintf(stderr, "bench/sac: %s\n", orl_error_message());
        remove(log_path);
        return 1;
    }
    /* the evaluation lines of the metrics log */
    FILE *f = fopen(log_path, "r");
    char line[4096];
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "\"eval_return\""))
            printf("{\"bench\":\"sac\",\"env\":\"%s\",%s", o.env_id, line + 1);
    if (f) fclose(f);
    remove(log_path);
    double expert = 0.0;
    int has_ref = orl_reference_score(o.env_id, NULL, &expert) == ORL_OK;
    double cpu = r.cpu_env + r.cpu_act + r.cpu_update + r.cpu_eval;
    printf("{\"bench\":\"sac\",\"env\":\"%s\",\"summary\":true,\"seed\":%llu,\"steps\":%lld,"
           "\"warmup\":%lld,\"updates\":%lld,\"eval_return\":%.3f,\"normalized_score\":%.2f,"
           "\"reached_expert\":%s,\"cpu_seconds\":%.2f,\"env_steps_per_cpu_s\":%.1f,"
           "\"share_env\":%.4f,\"share_act\":%.4f,\"share_update\":%.4f,\"share_eval\":%.4f,"
           "\"wall_seconds\":%.1f}\n",
           o.env_id, (unsigned long long)o.seed, (long long)r.env_steps, (long long)o.warmup,
           (long long)r.updates, r.eval_return, r.eval_score,
           has_ref && r.eval_return >= expert ? "true" : "false", cpu, (double)r.env_steps / cpu,
           r.cpu_env / cpu, r.cpu_act / cpu, r.cpu_update / cpu, r.cpu_eval / cpu, r.seconds);
    orl_policy_free(p);
    return 0;
}

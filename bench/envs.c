/* bench/envs: environment steps per second, single core, for every registered environment.
 *
 * Policy: uniform random actions from an orl_rng (seed 1) — a uniform index for discrete
 * actions, a uniform value in [act_low, act_high] per dimension for continuous ones. An episode
 * that terminates or is truncated is reset at once; resets are included in the time. Each
 * environment runs for about 0.5 s after a short warm-up (0.05 s); the rate is steps over
 * elapsed wall time (CLOCK_MONOTONIC).
 * Output: one JSON object per line,
 *   {"bench":"envs","env":"CartPole-v1","steps_per_s":...,"steps":...,"episodes":...} */
#include "orl/env.h"

#include <stdio.h>
#include <time.h>

#define SECONDS        0.5
#define WARMUP_SECONDS 0.05
#define CHUNK          4096

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct bench_run {
    long long steps;
    long long episodes;
    double seconds;
} bench_run;

/* steps env with random actions until at least seconds have passed; 0 on success */
static int run(orl_env *env, orl_rng *rng, double seconds, bench_run *out) {
    const orl_env_spec *spec = orl_env_get_spec(env);
    float obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT] = {0};
    long long steps = 0, episodes = 1;
    orl_env_reset(env, obs);
    double start = now(), elapsed = 0.0;
    while (elapsed < seconds) {
        for (int i = 0; i < CHUNK; i++) {
            int32_t act_idx = 0;
            if (spec->action_kind == ORL_ACTION_KIND_DISCRETE) {
                act_idx = (int32_t)orl_rng_below(rng, (uint32_t)spec->n_actions);
            } else {
                for (int32_t d = 0; d < spec->act_dim; d++) {
                    float lo = spec->act_low[d], hi = spec->act_high[d];
                    act[d] = lo + (hi - lo) * (float)orl_rng_uniform(rng);
                }
            }
            orl_env_result r;
            if (orl_env_step(env, act, act_idx, obs, &r) != ORL_OK) return 1;
            steps++;
            if (r.terminated || r.truncated) {
                orl_env_reset(env, obs);
                episodes++;
            }
        }
        elapsed = now() - start;
    }
    out->steps = steps;
    out->episodes = episodes;
    out->seconds = elapsed;
    return 0;
}

int main(void) {
    int failed = 0;
    for (int32_t i = 0; i < orl_env_count(); i++) {
        const char *id = orl_env_id(i);
        orl_env *env = NULL;
        if (orl_env_make(id, &env) != ORL_OK) {
            fprintf(stderr, "envs: %s: %s\n", id, orl_error_message());
            failed = 1;
            continue;
        }
        orl_rng rng;
        orl_rng_seed(&rng, 1, (uint64_t)i);
        orl_env_seed(env, 1);
        bench_run warm, timed;
        if (run(env, &rng, WARMUP_SECONDS, &warm) || run(env, &rng, SECONDS, &timed)) {
            fprintf(stderr, "envs: %s: %s\n", id, orl_error_message());
            failed = 1;
        } else {
            printf("{\"bench\":\"envs\",\"env\":\"%s\",\"steps_per_s\":%.0f,\"steps\":%lld,"
                   "\"episodes\":%lld}\n",
                   id, (double)timed.steps / timed.seconds, timed.steps, timed.episodes);
            fflush(stdout);
        }
        orl_env_free(env);
    }
    return failed;
}

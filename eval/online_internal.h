/* What eval/online.c (the loop) and eval/online_checkpoint.c (its checkpoints) share: the
 * state of a run while it goes on. Not public API. */
#ifndef ORL_EVAL_ONLINE_INTERNAL_H
#define ORL_EVAL_ONLINE_INTERNAL_H

#include "orl/env.h"
#include "orl/online.h"

#include <stdio.h>
#include <time.h>

/* seconds on the monotonic clock */
static inline double orl_online_wall_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* everything the loop holds while it runs */
typedef struct online_run {
    const orl_online_options *opt;
    const orl_learner_ops *ops;
    orl_online_result *r;
    orl_env *env;
    orl_dataset *rb; /* the replay buffer: a ring of cap rows once full */
    int64_t cap;
    orl_learner_context ctx;
    void *state; /* the learner, NULL during the warm-up */
    orl_policy_work *work;
    orl_metric_names names;
    orl_rng learner_rng, batch_rng, act_rng;
    orl_buffer *bufs; /* the learner's buffers, listed before every checkpoint */
    int32_t n_bufs, cap_bufs;
    FILE *log;
    float *obs;      /* (S) the current observation */
    uint8_t *same;   /* ((cap + 7) / 8) checkpoint scratch: next_obs rows stored as a bit */
    void *env_state; /* (orl_env_state_size) checkpoint scratch */
    int64_t episode, interval_episodes;
    double episode_return, interval_return;
    double c_env, c_act, c_update, c_eval;
    double t0; /* wall clock at the run's start (moved back by the time of earlier calls) */
} online_run;

/* creates the learner on the buffer's rows (its draws from rng) and sizes what acting with it
 * needs (eval/online.c) */
orl_status orl_online_start_learner(online_run *u, orl_rng *rng);

/* writes the checkpoint of the run after `step` environment steps (eval/online_checkpoint.c) */
orl_status orl_online_write_checkpoint(online_run *u, int64_t step);

/* reads the checkpoint into the run: the loop's counters and rngs, the environment's episode,
 * the replay buffer and (once it existed) the learner; *step receives its step and *log_bytes
 * the metrics log's size then (-1: no log) */
orl_status orl_online_read_checkpoint(online_run *u, int64_t *step, int64_t *log_bytes);

#endif

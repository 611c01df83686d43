/* Behaviour policy search (bps.h): the tilted behaviour policy (policy_type "tilted"), the
 * Monte Carlo estimate of the gradient of E_b[IS^2] from its own episodes, and the Adam search
 * over the tilt. Episodes are seeded exactly as orl_rollout seeds them, so a batch of the search
 * is reproducible from (seed, episode index) alone. Not here: generating the evaluation data
 * (orl_gen does it with the searched behaviour) and the estimators (ope/). */
#include "orl/bps.h"
#include "orl/eval.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BPS_ALIGN 64

static size_t align_up(size_t n) {
    return (n + BPS_ALIGN - 1) / BPS_ALIGN * BPS_ALIGN;
}

/* ---- the tilted behaviour ---- */

typedef struct tilted {
    const orl_policy *target; /* pi_e (not owned) */
    float *w;                 /* (n, S + 1) the tilt */
    int64_t n_w;
} tilted;

typedef struct tilted_work {
    orl_policy_work *target_work; /* for max_batch * n rows */
    float *obs;                   /* (B * n, S) each row repeated once per action */
    int32_t *idx;                 /* (B * n) 0, 1, ..., n - 1 repeated */
    double *logp_e;               /* (B * n) log pi_e(a | s) */
    double *logp_b;               /* (n) one row's log pi_b */
    double *prob;                 /* (n) one row's pi_b */
} tilted_work;

static const tilted *tilted_of(const orl_policy *p) {
    return (const tilted *)p->impl;
}

static orl_status tilted_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    size_t n = (size_t)p->n_actions, s = (size_t)p->obs_dim, rows = (size_t)max_batch * n;
    size_t at_obs = align_up(sizeof(tilted_work));
    size_t at_idx = at_obs + align_up(rows * s * sizeof(float));
    size_t at_le = at_idx + align_up(rows * sizeof(int32_t));
    size_t at_lb = at_le + align_up(rows * sizeof(double));
    size_t at_prob = at_lb + align_up(n * sizeof(double));
    size_t total = at_prob + align_up(n * sizeof(double));
    char *mem = aligned_alloc(BPS_ALIGN, total);
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "tilted behaviour work: %zu bytes", total);
    tilted_work *w = (tilted_work *)(void *)mem;
    w->obs = (float *)(void *)(mem + at_obs);
    w->idx = (int32_t *)(void *)(mem + at_idx);
    w->logp_e = (double *)(void *)(mem + at_le);
    w->logp_b = (double *)(void *)(mem + at_lb);
    w->prob = (double *)(void *)(mem + at_prob);
    for (size_t r = 0; r < rows; r++) w->idx[r] = (int32_t)(r % n);
    orl_status st = orl_policy_work_create(tilted_of(p)->target, (int32_t)rows, &w->target_work);
    if (st != ORL_OK) {
        free(mem);
        return st;
    }
    *scratch = w;
    return ORL_OK;
}

static void tilted_work_free(void *scratch) {
    tilted_work *w = scratch;
    if (!w) return;
    orl_policy_work_free(w->target_work);
    free(w);
}

/* log pi_e(a | s) for every action of every row: logp_e (B * n) */
static orl_status target_log_probs(const orl_policy *p, tilted_work *w, const float *obs,
                                   int32_t batch) {
    int32_t n = p->n_actions, s = p->obs_dim;
    for (int32_t b = 0; b < batch; b++)
        for (int32_t a = 0; a < n; a++)
            memcpy(w->obs + ((size_t)b * (size_t)n + (size_t)a) * (size_t)s,
                   obs + (size_t)b * (size_t)s, (size_t)s * sizeof(float));
    return orl_policy_logp(tilted_of(p)->target, w->target_work, w->obs, batch * n, NULL, w->idx,
                           w->logp_e);
}

/* log pi_b (n) of one row from its log pi_e (n) and observation (S), in double */
static void row_log_probs(const tilted *t, int32_t n, int32_t s, const double *logp_e,
                          const float *obs, double *logp_b) {
    double top = -INFINITY;
    for (int32_t a = 0; a < n; a++) {
        const float *wa = t->w + (size_t)a * (size_t)(s + 1);
        double z = (double)wa[s];
        for (int32_t j = 0; j < s; j++) z += (double)wa[j] * (double)obs[j];
        logp_b[a] = logp_e[a] + z; /* -inf stays -inf: pi_b is zero where pi_e is */
        if (logp_b[a] > top) top = logp_b[a];
    }
    double sum = 0.0;
    for (int32_t a = 0; a < n; a++) sum += exp(logp_b[a] - top);
    double lse = top + log(sum);
    for (int32_t a = 0; a < n; a++) logp_b[a] -= lse;
}

static orl_status tilted_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                             orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    (void)act;
    const tilted *t = tilted_of(p);
    tilted_work *w = scratch;
    int32_t n = p->n_actions, s = p->obs_dim;
    ORL_TRY(target_log_probs(p, w, obs, batch));
    for (int32_t b = 0; b < batch; b++) {
        row_log_probs(t, n, s, w->logp_e + (size_t)b * (size_t)n, obs + (size_t)b * (size_t)s,
                      w->logp_b);
        int32_t best = 0;
        for (int32_t a = 1; a < n; a++)
            if (w->logp_b[a] > w->logp_b[best]) best = a;
        if (mode == ORL_POLICY_MODE_SAMPLE) {
            for (int32_t a = 0; a < n; a++) w->prob[a] = exp(w->logp_b[a]);
            best = orl_rng_categorical(rng, w->prob, n);
        }
        act_idx[b] = best;
    }
    return ORL_OK;
}

static orl_status tilted_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                              const float *act, const int32_t *act_idx, double *logp) {
    (void)act;
    const tilted *t = tilted_of(p);
    tilted_work *w = scratch;
    int32_t n = p->n_actions, s = p->obs_dim;
    ORL_TRY(target_log_probs(p, w, obs, batch));
    for (int32_t b = 0; b < batch; b++) {
        row_log_probs(t, n, s, w->logp_e + (size_t)b * (size_t)n, obs + (size_t)b * (size_t)s,
                      w->logp_b);
        logp[b] = w->logp_b[act_idx[b]];
    }
    return ORL_OK;
}

static orl_status tilted_save(const orl_policy *p, orl_policy_file *f) {
    (void)p;
    ORL_FAIL(ORL_ERR_UNSUPPORTED,
             "%s: a searched (tilted) behaviour is not saved as a policy file; the data it "
             "generates carries its log-probabilities",
             orl_policy_file_path(f));
}

static void tilted_free(orl_policy *p) {
    free(p);
}

static const orl_policy_ops tilted_ops = {
    .type = "tilted",
    .work_create = tilted_work_create,
    .work_free = tilted_work_free,
    .act = tilted_act,
    .logp = tilted_logp,
    .save = tilted_save,
    .load = NULL,
    .free = tilted_free,
};

orl_status orl_bps_behavior_create(const orl_policy *target, orl_policy **out) {
    assert(target && out);
    *out = NULL;
    if (target->action_kind != ORL_ACTION_KIND_DISCRETE)
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "behaviour policy search: policy '%s' has continuous actions; the tilted "
                 "behaviour family is for discrete actions",
                 target->source[0] ? target->source : target->algorithm);
    if (target->deterministic)
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "behaviour policy search: policy '%s' is deterministic (no log-probabilities)",
                 target->source[0] ? target->source : target->algorithm);
    static const char config[] = "{\"behavior\": \"tilted\"}";
    int64_t n_w = (int64_t)target->n_actions * (target->obs_dim + 1);
    size_t at_t = align_up(sizeof(orl_policy)), at_w = at_t + align_up(sizeof(tilted));
    size_t at_c = at_w + align_up((size_t)n_w * sizeof(float));
    char *mem = aligned_alloc(BPS_ALIGN, align_up(at_c + sizeof config));
    if (!mem) ORL_FAIL(ORL_ERR_NOMEM, "tilted behaviour");
    memset(mem, 0, at_c);
    orl_policy *p = (orl_policy *)(void *)mem;
    tilted *t = (tilted *)(void *)(mem + at_t);
    t->target = target;
    t->w = (float *)(void *)(mem + at_w);
    t->n_w = n_w;
    p->ops = &tilted_ops;
    p->impl = t;
    snprintf(p->algorithm, sizeof p->algorithm, "bps");
    p->config_json = mem + at_c;
    memcpy(p->config_json, config, sizeof config);
    p->obs_dim = target->obs_dim;
    p->act_dim = 1;
    p->action_kind = ORL_ACTION_KIND_DISCRETE;
    p->n_actions = target->n_actions;
    p->deterministic = 0;
    *out = p;
    return ORL_OK;
}

float *orl_bps_tilt(orl_policy *behavior, int64_t *n) {
    if (!behavior || behavior->ops != &tilted_ops) {
        if (n) *n = 0;
        return NULL;
    }
    tilted *t = (tilted *)behavior->impl;
    if (n) *n = t->n_w;
    return t->w;
}

/* ---- the gradient of E_b[IS^2] ---- */

orl_status orl_bps_gradient(orl_env *env, const orl_policy *target, const orl_policy *behavior,
                            int64_t episodes, uint64_t seed, int64_t first_episode, double gamma,
                            double *grad, orl_bps_batch *batch) {
    assert(env && target && behavior && grad && episodes >= 1);
    if (behavior->ops != &tilted_ops || tilted_of(behavior)->target != target)
        ORL_FAIL(ORL_ERR_INPUT, "behaviour policy search: the behaviour is not a tilt of the "
                                "evaluation policy");
    const orl_env_spec *spec = orl_env_get_spec(env);
    ORL_TRY(orl_policy_check_dims(target, spec->obs_dim, spec->act_dim, spec->action_kind,
                                  spec->n_actions));
    const tilted *t = tilted_of(behavior);
    int32_t n = behavior->n_actions, s = behavior->obs_dim;
    int64_t n_w = t->n_w;

    /* the behaviour's own scratch (its rows give log pi_e and log pi_b of the state) and the
     * per-episode score sum_t d log pi_b / dW */
    void *scratch = NULL;
    ORL_TRY(tilted_work_create(behavior, 1, &scratch));
    tilted_work *tw = scratch;
    double *score = calloc((size_t)(2 * n_w), sizeof(double)), *score_sum = score + n_w;
    if (!score) {
        tilted_work_free(scratch);
        ORL_FAIL(ORL_ERR_NOMEM, "behaviour policy search: %lld scores", (long long)n_w);
    }

    orl_status st = ORL_OK;
    memset(grad, 0, (size_t)n_w * sizeof *grad);
    double sum = 0.0, sum_sq = 0.0, mean_run = 0.0, m2_run = 0.0, max_lr = -INFINITY;
    int64_t steps = 0;
    float obs[ORL_ENV_MAX_OBS], next_obs[ORL_ENV_MAX_OBS], act[ORL_ENV_MAX_ACT];
    memset(act, 0, sizeof act);
    orl_rng rng;
    for (int64_t e = 0; e < episodes; e++) {
        uint64_t es = orl_rollout_episode_seed(seed, first_episode + e);
        orl_env_seed(env, es);
        orl_rng_seed(&rng, es, ORL_ROLLOUT_POLICY_STREAM);
        orl_env_reset(env, obs);
        memset(score, 0, (size_t)n_w * sizeof *score);
        double ret = 0.0, disc = 1.0, log_ratio = 0.0;
        for (;;) {
            /* the draw tilted_act makes in sample mode, keeping log pi_e and log pi_b */
            ORL_TRY_GOTO(st, done, target_log_probs(behavior, tw, obs, 1));
            row_log_probs(t, n, s, tw->logp_e, obs, tw->logp_b);
            for (int32_t k = 0; k < n; k++) tw->prob[k] = exp(tw->logp_b[k]);
            int32_t a = orl_rng_categorical(&rng, tw->prob, n);
            log_ratio += tw->logp_e[a] - tw->logp_b[a];
            /* d log pi_b(a | s) / dW[a'] = (1[a' = a] - pi_b(a' | s)) x(s) */
            for (int32_t k = 0; k < n; k++) {
                double c = (k == a ? 1.0 : 0.0) - exp(tw->logp_b[k]);
                if (c == 0.0) continue;
                double *sk = score + (size_t)k * (size_t)(s + 1);
                for (int32_t j = 0; j < s; j++) sk[j] += c * (double)obs[j];
                sk[s] += c;
            }
            orl_env_result r;
            ORL_TRY_GOTO(st, done, orl_env_step(env, act, a, next_obs, &r));
            ret += disc * r.reward;
            disc *= gamma;
            steps++;
            if (r.terminated || r.truncated) break;
            memcpy(obs, next_obs, (size_t)s * sizeof *obs);
        }
        double is = exp(log_ratio) * ret, is_sq = is * is;
        if (!isfinite(is_sq))
            ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC,
                          "behaviour policy search: episode %lld has log importance ratio %g "
                          "(IS^2 overflows)",
                          (long long)(first_episode + e), log_ratio);
        for (int64_t i = 0; i < n_w; i++) {
            grad[i] += is_sq * score[i];
            score_sum[i] += score[i];
        }
        sum += is;
        sum_sq += is_sq;
        double delta = is - mean_run; /* Welford, for the variance */
        mean_run += delta / (double)(e + 1);
        m2_run += delta * (is - mean_run);
        if (log_ratio > max_lr) max_lr = log_ratio;
    }
    /* grad = -mean_i (IS_i^2 - c_i) score_i with the leave-one-out baseline c_i = (sum_j IS_j^2
     * - IS_i^2) / (E - 1): unbiased since E[score] = 0 and c_i does not depend on episode i, and
     * far less noisy than without a baseline, IS^2 being mostly v^2. Summed over i this is
     * (E / (E - 1)) sum_i IS_i^2 score_i - (sum_j IS_j^2 / (E - 1)) sum_i score_i. */
    double e = (double)episodes;
    for (int64_t i = 0; i < n_w; i++)
        grad[i] = episodes > 1 ? -(e / (e - 1.0) * grad[i] - sum_sq / (e - 1.0) * score_sum[i]) / e
                               : -grad[i];
    if (batch) {
        batch->episodes = episodes;
        batch->steps = steps;
        batch->is_mean = sum / (double)episodes;
        batch->is_sq_mean = sum_sq / (double)episodes;
        batch->is_var = episodes > 1 ? m2_run / (double)(episodes - 1) : 0.0;
        batch->max_log_ratio = max_lr;
    }
done:
    free(score);
    tilted_work_free(scratch);
    return st;
}

/* ---- the search ---- */

void orl_bps_options_init(orl_bps_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->iterations = 100;
    opt->episodes = 20;
    opt->lr = 0.01;
    opt->gamma = NAN;
}

orl_status orl_bps_search(const char *env_id, const orl_policy *target, const orl_bps_options *opt,
                          orl_policy **behavior, orl_bps_report *report) {
    assert(env_id && target && opt && behavior);
    *behavior = NULL;
    if (opt->iterations < 0 || opt->episodes < 1 || !(opt->lr >= 0.0) || !isfinite(opt->lr))
        ORL_FAIL(ORL_ERR_INPUT,
                 "behaviour policy search: iterations %d (>= 0), episodes %d (>= 1), lr %g "
                 "(finite, >= 0)",
                 opt->iterations, opt->episodes, opt->lr);
    orl_env *env = NULL;
    ORL_TRY(orl_env_make(env_id, &env));
    double gamma = isnan(opt->gamma) ? orl_env_get_spec(env)->gamma : opt->gamma;
    if (!(gamma >= 0.0 && gamma <= 1.0)) {
        orl_env_free(env);
        ORL_FAIL(ORL_ERR_INPUT, "behaviour policy search: gamma %g, expected [0, 1]", gamma);
    }
    orl_policy *b = NULL;
    orl_status st = orl_bps_behavior_create(target, &b);
    if (st != ORL_OK) {
        orl_env_free(env);
        return st;
    }
    int64_t n_w = 0;
    float *w = orl_bps_tilt(b, &n_w);
    /* Adam in double over W: the gradient's scale (IS^2) varies by orders of magnitude across
     * tasks, and Adam's step does not depend on it */
    double *mem = calloc((size_t)(4 * n_w), sizeof(double));
    if (!mem) {
        orl_policy_free(b);
        orl_env_free(env);
        ORL_FAIL(ORL_ERR_NOMEM, "behaviour policy search");
    }
    double *grad = mem, *m = mem + n_w, *v = mem + 2 * n_w, *theta = mem + 3 * n_w;
    const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    orl_bps_report rep;
    memset(&rep, 0, sizeof rep);
    rep.gamma = gamma;
    for (int32_t k = 0; k <= opt->iterations; k++) {
        orl_bps_batch bt;
        ORL_TRY_GOTO(st, done,
                     orl_bps_gradient(env, target, b, opt->episodes, opt->seed,
                                      (int64_t)k * opt->episodes, gamma, grad, &bt));
        rep.episodes += bt.episodes;
        rep.steps += bt.steps;
        if (k == 0) rep.first = bt;
        rep.last = bt;
        if (k == opt->iterations) break; /* the last batch measures the final behaviour */
        double bc1 = 1.0 - pow(beta1, k + 1), bc2 = 1.0 - pow(beta2, k + 1);
        for (int64_t i = 0; i < n_w; i++) {
            if (!isfinite(grad[i]))
                ORL_FAIL_GOTO(st, done, ORL_ERR_NUMERIC,
                              "behaviour policy search: iteration %d: gradient not finite", k);
            m[i] = beta1 * m[i] + (1.0 - beta1) * grad[i];
            v[i] = beta2 * v[i] + (1.0 - beta2) * grad[i] * grad[i];
            theta[i] -= opt->lr * (m[i] / bc1) / (sqrt(v[i] / bc2) + eps);
            w[i] = (float)theta[i];
        }
        rep.iterations = k + 1;
        if (opt->progress &&
            (st = orl_progress_report(opt->progress, k + 1, opt->iterations, "search")) != ORL_OK)
            goto done;
    }
done:
    free(mem);
    orl_env_free(env);
    if (st != ORL_OK) {
        orl_policy_free(b);
        return st;
    }
    if (report) *report = rep;
    *behavior = b;
    return ORL_OK;
}

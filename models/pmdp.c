/* MOReL's pessimistic MDP (include/orl/pmdp.h): K x n rollouts of a policy in a dynamics
 * ensemble, all active rollouts through all members in one batched prediction per step, HALT
 * by the members' disagreement, then the rollouts laid out path after path for NPG.
 * Not here: the model (models/dynamics.c), the planner (models/npg.c). One allocation at create;
 * none in a rollout. */
#include "orl/pmdp.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct orl_pmdp {
    orl_pmdp_config cfg;
    const orl_dynamics *d;
    orl_dynamics_work *work;
    int32_t K, n, R, S, A;
    int64_t H;
    double threshold;
    float *low, *high; /* (A) NaN: unbounded */
    /* step-major storage: rollout i's step t at row i H + t */
    float *obs_t; /* (R H, S) */
    float *act_t; /* (R H, A) */
    float *rew_t; /* (R H) */
    int64_t *len; /* (R) steps taken */
    /* the paths handed out (path after path) */
    float *obs;          /* (R H, S) */
    float *act;          /* (R H, A) */
    float *rew;          /* (R H) */
    int64_t *off;        /* (R + 1) */
    uint8_t *terminated; /* (R) */
    uint8_t *halted;     /* (R) */
    /* one step of the active rollouts */
    int32_t *active; /* (R) their indices */
    float *cur;      /* (R, S) their states */
    float *cur_act;  /* (R, A) */
    float *next;     /* (K, R, S) */
    float *rw;       /* (K, R) */
    float *dn;       /* (K, R) */
    float *dis;      /* (R) */
    float *own_next; /* (R, S) each active rollout's own member's next state (reward_fn) */
    float *env_rew;  /* (R) reward_fn's reward */
    float *env_done; /* (R) reward_fn's termination */
    void *mem;
};

void orl_pmdp_free(orl_pmdp *m) {
    if (!m) return;
    orl_dynamics_work_free(m->work);
    free(m->mem);
    free(m);
}

orl_status orl_pmdp_create(const orl_dynamics *d, const orl_pmdp_config *cfg, const float *act_low,
                           const float *act_high, orl_pmdp **out) {
    assert(d && cfg && out);
    *out = NULL;
    if (d->action_kind != ORL_ACTION_KIND_CONTINUOUS)
        ORL_FAIL(ORL_ERR_INPUT, "pmdp: the model's actions are discrete (continuous only)");
    if (cfg->starts_per_member < 1 || cfg->horizon < 1)
        ORL_FAIL(ORL_ERR_INPUT, "pmdp: expected starts_per_member >= 1 and horizon >= 1");
    if (d->n_starts < 1) ORL_FAIL(ORL_ERR_INPUT, "pmdp: the model has no start states");
    double thr = cfg->threshold > 0.0 ? cfg->threshold : d->threshold;
    if (!(thr > 0.0) && d->cfg.members > 1)
        ORL_FAIL(ORL_ERR_INPUT, "pmdp: the disagreement threshold %g is not positive", thr);
    orl_pmdp *m = calloc(1, sizeof *m);
    if (!m) ORL_FAIL(ORL_ERR_NOMEM, "pmdp: out of memory");
    orl_status st = ORL_OK;
    m->cfg = *cfg;
    m->d = d;
    m->K = d->cfg.members;
    m->n = cfg->starts_per_member;
    m->R = m->K * m->n;
    m->S = d->obs_dim;
    m->A = d->act_dim;
    m->H = cfg->horizon;
    m->threshold = thr;
    const size_t R = (size_t)m->R, S = (size_t)m->S, A = (size_t)m->A, K = (size_t)m->K;
    const size_t RH = R * (size_t)m->H;
    size_t floats = 2 * A + 2 * RH * (S + A + 1) + R * (S + A) + K * R * (S + 2) + R + R * (S + 2);
    size_t bytes =
        floats * sizeof(float) + (2 * R + 1) * sizeof(int64_t) + R * sizeof(int32_t) + 2 * R + 64;
    char *p = calloc(1, bytes);
    if (!p) ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "pmdp: cannot allocate %zu bytes", bytes);
    m->mem = p;
    /* 8-byte arrays first, then floats, then the small ones */
    m->len = (int64_t *)(void *)p, p += R * sizeof(int64_t);
    m->off = (int64_t *)(void *)p, p += (R + 1) * sizeof(int64_t);
    float *f = (float *)(void *)p;
    m->low = f, f += A;
    m->high = f, f += A;
    m->obs_t = f, f += RH * S;
    m->act_t = f, f += RH * A;
    m->rew_t = f, f += RH;
    m->obs = f, f += RH * S;
    m->act = f, f += RH * A;
    m->rew = f, f += RH;
    m->cur = f, f += R * S;
    m->cur_act = f, f += R * A;
    m->next = f, f += K * R * S;
    m->rw = f, f += K * R;
    m->dn = f, f += K * R;
    m->dis = f, f += R;
    m->own_next = f, f += R * S;
    m->env_rew = f, f += R;
    m->env_done = f, f += R;
    p = (char *)(void *)f;
    m->active = (int32_t *)(void *)p, p += R * sizeof(int32_t);
    m->terminated = (uint8_t *)p, p += R;
    m->halted = (uint8_t *)p;
    for (size_t j = 0; j < A; j++) {
        m->low[j] = act_low ? act_low[j] : NAN;
        m->high[j] = act_high ? act_high[j] : NAN;
    }
    ORL_TRY_GOTO(st, fail, orl_dynamics_work_create(d, m->R, &m->work));
    *out = m;
    return ORL_OK;
fail:
    orl_pmdp_free(m);
    return st;
}

double orl_pmdp_threshold(const orl_pmdp *m) {
    return m->threshold;
}

const uint8_t *orl_pmdp_halted(const orl_pmdp *m) {
    return m->halted;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

orl_status orl_pmdp_rollouts(orl_pmdp *m, orl_pmdp_act_fn act, void *ctx, orl_rng *rng,
                             orl_npg_paths *paths, int64_t *starts, orl_pmdp_stats *stats) {
    double t0 = cpu_seconds();
    const int32_t R = m->R, S = m->S, A = m->A, K = m->K, n = m->n;
    const int64_t H = m->H;
    const orl_dynamics *d = m->d;
    orl_pmdp_stats local;
    orl_pmdp_stats *so = stats ? stats : &local;
    memset(so, 0, sizeof *so);
    so->rollouts = R;

    /* n starts drawn from the data's, the same for every member */
    for (int32_t i = 0; i < n; i++) {
        int64_t k = orl_rng_range(rng, 0, d->n_starts - 1);
        for (int32_t mem = 0; mem < K; mem++) {
            int32_t r = mem * n + i;
            memcpy(m->obs_t + (size_t)r * (size_t)H * (size_t)S, d->starts + (size_t)k * (size_t)S,
                   (size_t)S * sizeof(float));
            if (starts) starts[r] = k;
        }
    }
    for (int32_t r = 0; r < R; r++) m->len[r] = 0, m->terminated[r] = 0, m->halted[r] = 0;

    int32_t n_active = R;
    for (int32_t r = 0; r < R; r++) m->active[r] = r;
    for (int64_t t = 0; t < H && n_active > 0; t++) {
        /* gather the active states, act, clip */
        for (int32_t b = 0; b < n_active; b++) {
            int32_t r = m->active[b];
            memcpy(m->cur + (size_t)b * (size_t)S,
                   m->obs_t + ((size_t)r * (size_t)H + (size_t)t) * (size_t)S,
                   (size_t)S * sizeof(float));
        }
        act(ctx, m->cur, n_active, rng, m->cur_act);
        for (int32_t b = 0; b < n_active; b++)
            for (int32_t j = 0; j < A; j++) {
                float *a = m->cur_act + (size_t)b * (size_t)A + (size_t)j;
                if (!isfinite(*a))
                    ORL_FAIL(ORL_ERR_NUMERIC, "pmdp: a non-finite action at step %lld",
                             (long long)t);
                if (!isnan(m->low[j]) && *a < m->low[j]) *a = m->low[j];
                if (!isnan(m->high[j]) && *a > m->high[j]) *a = m->high[j];
            }
        /* every member on every active (s, a) */
        orl_dynamics_predict(d, m->work, m->cur, m->cur_act, NULL, 0, n_active, m->next, m->rw,
                             m->dn);
        orl_dynamics_disagreement(d, m->next, n_active, m->dis);
        if (m->cfg.reward_fn) {
            /* the task's own reward and termination on (s, a, the own member's s') */
            for (int32_t b = 0; b < n_active; b++) {
                size_t kb = (size_t)(m->active[b] / n) * (size_t)n_active + (size_t)b;
                memcpy(m->own_next + (size_t)b * (size_t)S, m->next + kb * (size_t)S,
                       (size_t)S * sizeof(float));
            }
            m->cfg.reward_fn(m->cur, m->cur_act, m->own_next, n_active, m->env_rew, m->env_done);
        }
        int32_t kept = 0;
        for (int32_t b = 0; b < n_active; b++) {
            int32_t r = m->active[b], mem = r / n;
            size_t row = (size_t)r * (size_t)H + (size_t)t;
            memcpy(m->act_t + row * (size_t)A, m->cur_act + (size_t)b * (size_t)A,
                   (size_t)A * sizeof(float));
            size_t kb = (size_t)mem * (size_t)n_active + (size_t)b;
            float rew = m->cfg.reward_fn ? m->env_rew[b] : m->rw[kb];
            float done = m->cfg.reward_fn ? m->env_done[b] : m->dn[kb];
            const float *nx = m->next + kb * (size_t)S;
            int finite = isfinite(rew);
            for (int32_t s = 0; s < S; s++) finite = finite && isfinite(nx[s]);
            if (!finite)
                ORL_FAIL(ORL_ERR_NUMERIC, "pmdp: a non-finite prediction at step %lld",
                         (long long)t);
            m->len[r] = t + 1;
            so->steps++;
            if (K > 1 && (double)m->dis[b] > m->threshold) {
                /* HALT: this step's reward plus the penalty once, then nothing */
                m->rew_t[row] = (float)((double)rew + m->cfg.halt_reward);
                m->halted[r] = 1, m->terminated[r] = 1;
                so->halted++;
                continue;
            }
            m->rew_t[row] = rew;
            if (m->cfg.use_done && done > 0.5f) {
                m->terminated[r] = 1;
                so->done++;
                continue;
            }
            if (t + 1 < H) memcpy(m->obs_t + (row + 1) * (size_t)S, nx, (size_t)S * sizeof(float));
            m->active[kept++] = r;
        }
        n_active = kept;
    }

    /* path after path */
    int64_t N = 0;
    double ret = 0.0;
    for (int32_t r = 0; r < R; r++) {
        m->off[r] = N;
        size_t src = (size_t)r * (size_t)H, len = (size_t)m->len[r];
        memcpy(m->obs + (size_t)N * (size_t)S, m->obs_t + src * (size_t)S,
               len * (size_t)S * sizeof(float));
        memcpy(m->act + (size_t)N * (size_t)A, m->act_t + src * (size_t)A,
               len * (size_t)A * sizeof(float));
        memcpy(m->rew + N, m->rew_t + src, len * sizeof(float));
        for (size_t t = 0; t < len; t++) ret += (double)m->rew_t[src + t];
        N += (int64_t)len;
    }
    m->off[R] = N;
    so->mean_return = ret / R;
    paths->n_paths = R;
    paths->off = m->off;
    paths->obs = m->obs;
    paths->act = m->act;
    paths->rew = m->rew;
    paths->terminated = m->terminated;
    so->seconds = cpu_seconds() - t0;
    return ORL_OK;
}

/* Tests of the shared actor-critic parts (models/critic.c, models/actor.c): the critic ensemble
 * equals K separate MLPs, its target reductions follow their formulas, its action gradient
 * matches finite differences in double and leaves the critics' own gradients alone; the
 * actor's reparameterised backward (action and log-density paths, three heads) matches finite
 * differences of a double-precision reference; the temperature's loss and step; checkpoint
 * buffers restore the exact state; no allocation in forward, backward or a step. Every test
 * names its seed. */
#define _GNU_SOURCE
#include "orl/fit.h"
#include "orl/heads.h"
#include "orl/models.h"

#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tests/train_helpers.h"

#define LOG_2PI 1.8378770664093453

/* ---- a double-precision reference of a ReLU MLP (no LayerNorm) ---- */

static double *params_double(const orl_mlp *m) {
    double *p = malloc((size_t)m->n_params * sizeof(double));
    for (int64_t i = 0; i < m->n_params; i++) p[i] = (double)m->params[i];
    return p;
}

/* |got - want| within atol + rtol |want| */
static void assert_close(double got, double want, double atol, double rtol, const char *what,
                         int64_t i) {
    cr_assert(fabs(got - want) <= atol + rtol * fabs(want), "%s[%lld]: got %.8g, want %.8g", what,
              (long long)i, got, want);
}

static orl_critic_config small_critic(int32_t S, int32_t A, int32_t n, int32_t K, int32_t B) {
    orl_critic_config c = orl_critic_defaults(S, A, n, B);
    c.members = K;
    c.hidden = 16;
    c.layers = 2;
    c.lr = 1e-3f;
    return c;
}

static void fill_normal(float *x, int64_t n, orl_rng *rng) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)orl_rng_normal(rng);
}

/* a dataset of n one-step episodes, S = 3, A = 2 continuous actions in [-2, 1] x [-2, 1] */
static orl_dataset *make_data(int64_t n, orl_rng *rng) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 3, 2, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    for (int j = 0; j < 2; j++) h.act_low[j] = -2.0f, h.act_high[j] = 1.0f;
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, n, n, &ds), ORL_OK);
    orl_header_free(&h);
    for (int64_t i = 0; i < n; i++) {
        for (int j = 0; j < 3; j++) {
            ds->obs[3 * i + j] = (float)(1.0 + 2.0 * orl_rng_normal(rng));
            ds->next_obs[3 * i + j] = ds->obs[3 * i + j];
        }
        for (int j = 0; j < 2; j++) ds->act[2 * i + j] = (float)(-0.5 + orl_rng_uniform(rng));
        ds->rew[i] = 0.0f;
        ds->terminal[i] = 1;
        ds->timeout[i] = 0;
        ds->logp_b[i] = NAN;
    }
    ds->n_steps = n;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    return ds;
}

/* ---- the critic ---- */

Test(critic, forward_equals_separate_mlps) {
    openblas_set_num_threads(1);
    enum { S = 3, A = 2, K = 3, B = 5, n = 4 };
    for (int discrete = 0; discrete < 2; discrete++) {
        uint64_t seed = 101;
        orl_critic_config cfg =
            discrete ? small_critic(S, 0, n, K, B) : small_critic(S, A, 0, K, B);
        orl_rng rng;
        orl_rng_seed(&rng, seed, 1);
        orl_critic *c;
        cr_assert_eq(orl_critic_create(&cfg, &rng, &c), ORL_OK, "seed %llu",
                     (unsigned long long)seed);
        /* the same draws, member after member, into separate networks */
        orl_rng_seed(&rng, seed, 1);
        orl_mlp nets[K];
        orl_mlp_work work;
        int32_t n_in = discrete ? S : S + A, n_out = discrete ? n : 1;
        orl_mlp_config net = orl_critic_member(c, 0)->net.cfg;
        cr_assert_eq(net.widths[0], n_in);
        cr_assert_eq(net.widths[3], n_out);
        for (int k = 0; k < K; k++) cr_assert_eq(orl_mlp_create(&nets[k], &net, &rng), ORL_OK);
        cr_assert_eq(orl_mlp_work_init(&work, &net, B), ORL_OK);
        float obs[B * S], act[B * A], x[B * (S + A)], out[B * n];
        fill_normal(obs, B * S, &rng);
        fill_normal(act, B * A, &rng);
        for (int b = 0; b < B; b++) {
            memcpy(x + b * n_in, obs + b * S, S * sizeof(float));
            if (!discrete) memcpy(x + b * n_in + S, act + b * A, A * sizeof(float));
        }
        const float *q = orl_critic_forward(c, obs, discrete ? NULL : act, B);
        const float *qt = orl_critic_target_forward(c, obs, discrete ? NULL : act, B);
        for (int k = 0; k < K; k++) {
            cr_assert_eq(memcmp(nets[k].params, orl_critic_member(c, k)->net.params,
                                (size_t)nets[k].n_params * sizeof(float)),
                         0, "member %d's parameters", k);
            orl_mlp_forward(&nets[k], &work, x, B, out);
            cr_assert_eq(memcmp(out, q + k * B * n_out, (size_t)(B * n_out) * sizeof(float)), 0,
                         "member %d (discrete %d): live forward differs", k, discrete);
            cr_assert_eq(memcmp(out, qt + k * B * n_out, (size_t)(B * n_out) * sizeof(float)), 0,
                         "member %d: the target starts as a copy", k);
            orl_mlp_free(&nets[k]);
        }
        /* the first m members alone give the same values */
        const float *q1 = orl_critic_forward_members(c, obs, discrete ? NULL : act, B, 1);
        orl_mlp_forward(&orl_critic_member(c, 0)->net, &work, x, B, out);
        cr_assert_eq(memcmp(out, q1, (size_t)(B * n_out) * sizeof(float)), 0);
        orl_mlp_work_free(&work);
        orl_critic_free(c);
    }
}

Test(critic, target_reductions_and_polyak) {
    openblas_set_num_threads(1);
    enum { S = 3, A = 2, K = 3, B = 7 };
    orl_rng rng;
    orl_rng_seed(&rng, 102, 1);
    orl_critic_config cfg = small_critic(S, A, 0, K, B);
    orl_critic *c;
    cr_assert_eq(orl_critic_create(&cfg, &rng, &c), ORL_OK);
    float obs[B * S], act[B * A], dq[K * B], out[B];
    fill_normal(obs, B * S, &rng);
    fill_normal(act, B * A, &rng);
    fill_normal(dq, K * B, &rng);
    /* move the live networks, then the targets part of the way */
    orl_critic_forward(c, obs, act, B);
    orl_critic_backward(c, dq);
    orl_critic_step(c, 0.05f);
    int64_t P = orl_critic_member(c, 0)->net.n_params;
    float *old = malloc((size_t)P * sizeof(float));
    memcpy(old, orl_critic_member(c, 1)->target.params, (size_t)P * sizeof(float));
    float tau = 0.3f;
    orl_critic_polyak(c, tau);
    const orl_fit *f1 = orl_critic_member(c, 1);
    for (int64_t i = 0; i < P; i++)
        assert_close(f1->target.params[i], (1.0 - tau) * old[i] + tau * f1->net.params[i], 1e-6,
                     1e-6, "polyak", i);
    free(old);
    /* the reductions against their formulas over the raw target values */
    float qt[K * B];
    memcpy(qt, orl_critic_target_forward(c, obs, act, B), sizeof qt);
    float lambda = 0.75f;
    for (int r = 0; r < 3; r++) {
        orl_critic_target(c, obs, act, B, (orl_critic_reduce)r, lambda, out);
        for (int b = 0; b < B; b++) {
            double mn = INFINITY, mx = -INFINITY, sum = 0.0;
            for (int k = 0; k < K; k++) {
                mn = fmin(mn, qt[k * B + b]);
                mx = fmax(mx, qt[k * B + b]);
                sum += qt[k * B + b];
            }
            double want = r == ORL_CRITIC_REDUCE_MIN    ? mn
                          : r == ORL_CRITIC_REDUCE_MEAN ? sum / K
                                                        : lambda * mn + (1.0 - lambda) * mx;
            assert_close(out[b], want, 1e-6, 1e-6, "reduction", r * B + b);
        }
    }
    /* the members' targets differ from each other and from the live networks */
    cr_assert_neq(qt[0], qt[B]);
    const float *q = orl_critic_forward(c, obs, act, B);
    cr_assert_neq(q[0], qt[0]);
    /* a hard copy makes them equal */
    orl_critic_target_copy(c);
    float q_live[K * B];
    memcpy(q_live, orl_critic_forward(c, obs, act, B), sizeof q_live);
    cr_assert_eq(memcmp(q_live, orl_critic_target_forward(c, obs, act, B), sizeof q_live), 0);
    orl_critic_free(c);
}

Test(critic, action_grad_matches_finite_differences_and_leaves_params_alone) {
    openblas_set_num_threads(1);
    enum { S = 3, A = 2, K = 2, B = 6 };
    uint64_t seed = 103;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    orl_critic_config cfg = small_critic(S, A, 0, K, B);
    orl_critic *c;
    cr_assert_eq(orl_critic_create(&cfg, &rng, &c), ORL_OK);
    float obs[B * S], act[B * A], dq[K * B], dact[B * A];
    fill_normal(obs, B * S, &rng);
    fill_normal(act, B * A, &rng);
    fill_normal(dq, K * B, &rng);
    /* some parameter gradients already accumulated: the action gradient must not change them */
    orl_critic_forward(c, obs, act, B);
    orl_critic_backward(c, dq);
    int64_t P = orl_critic_member(c, 0)->net.n_params;
    float *before = malloc((size_t)(K * P) * sizeof(float));
    for (int k = 0; k < K; k++)
        memcpy(before + k * P, orl_critic_member(c, k)->grads, (size_t)P * sizeof(float));
    for (int i = 0; i < B * A; i++) dact[i] = 0.5f; /* accumulates on top */
    orl_critic_action_grad(c, dq, dact);
    for (int k = 0; k < K; k++)
        cr_assert_eq(
            memcmp(before + k * P, orl_critic_member(c, k)->grads, (size_t)P * sizeof(float)), 0,
            "member %d's gradients changed", k);
    /* dact = 0.5 + sum_k dq_k dQ_k/da, by central differences in double */
    double h = 1e-6;
    for (int b = 0; b < B; b++) {
        for (int j = 0; j < A; j++) {
            double want = 0.5;
            for (int k = 0; k < K; k++) {
                const orl_mlp *m = &orl_critic_member(c, k)->net;
                double *pd = params_double(m);
                double x[S + A], qp, qm;
                for (int i = 0; i < S; i++) x[i] = obs[b * S + i];
                for (int i = 0; i < A; i++) x[S + i] = act[b * A + i];
                x[S + j] += h;
                ref_forward(m, pd, x, &qp);
                x[S + j] -= 2 * h;
                ref_forward(m, pd, x, &qm);
                want += dq[k * B + b] * (qp - qm) / (2 * h);
                free(pd);
            }
            assert_close(dact[b * A + j], want, 1e-5, 1e-4, "dact", b * A + j);
        }
    }
    /* only Q_1 (forward of the first member): its gradient alone */
    orl_critic_forward_members(c, obs, act, B, 1);
    memset(dact, 0, sizeof dact);
    orl_critic_action_grad(c, dq, dact);
    const orl_mlp *m0 = &orl_critic_member(c, 0)->net;
    double *pd = params_double(m0);
    double x[S + A], qp, qm;
    for (int i = 0; i < S; i++) x[i] = obs[i];
    for (int i = 0; i < A; i++) x[S + i] = act[i];
    x[S] += h;
    ref_forward(m0, pd, x, &qp);
    x[S] -= 2 * h;
    ref_forward(m0, pd, x, &qm);
    assert_close(dact[0], dq[0] * (qp - qm) / (2 * h), 1e-5, 1e-4, "dact (Q_1 only)", 0);
    free(pd);
    free(before);
    orl_critic_free(c);
}

Test(critic, rejects_bad_configurations) {
    orl_rng rng;
    orl_rng_seed(&rng, 104, 1);
    orl_critic *c = (orl_critic *)&rng;
    orl_critic_config cfg = small_critic(3, 2, 4, 2, 8); /* both kinds */
    cr_assert_eq(orl_critic_create(&cfg, &rng, &c), ORL_ERR_INPUT);
    cr_assert_null(c);
    cfg = small_critic(3, 0, 0, 2, 8); /* neither */
    cr_assert_eq(orl_critic_create(&cfg, &rng, &c), ORL_ERR_INPUT);
    cfg = small_critic(3, 2, 0, 0, 8);
    cr_assert_eq(orl_critic_create(&cfg, &rng, &c), ORL_ERR_INPUT);
    orl_critic_free(NULL);
}

/* ---- the actor ---- */

/* the double reference of the actor's loss L = sum W act + sum V logp, for a sample with noise
 * eps (NULL: zero) or (given != NULL) the log-density of given actions */
static double ref_actor_loss(const orl_actor *a_const, orl_actor *a, const double *pd,
                             const float *obs, int B, const float *eps, const float *given,
                             const float *W, const float *V, orl_policy_head head, float ls_min,
                             float ls_max) {
    (void)a_const;
    const orl_mlp *m = &orl_actor_kit(a)->net;
    const orl_policy *p = orl_actor_policy(a);
    int S = m->cfg.widths[0], A = p->act_dim;
    double loss = 0.0;
    for (int b = 0; b < B; b++) {
        double x[16], u[16];
        for (int i = 0; i < S; i++) x[i] = obs[b * S + i];
        ref_forward(m, pd, x, u);
        double logp = 0.0;
        for (int j = 0; j < A; j++) {
            double c = 0.5 * ((double)p->act_high[j] + (double)p->act_low[j]);
            double s = 0.5 * ((double)p->act_high[j] - (double)p->act_low[j]);
            double e = eps ? (double)eps[b * A + j] : 0.0, act;
            if (head == ORL_POLICY_HEAD_DETERMINISTIC) {
                act = c + s * tanh(u[j]);
            } else {
                double ls = ls_min + (ls_max - ls_min) * (tanh(u[A + j]) + 1.0) / 2.0;
                double mean = u[j], sd = exp(ls);
                if (given) {
                    act = given[b * A + j];
                    double z = act;
                    if (head == ORL_POLICY_HEAD_TANH_GAUSSIAN) z = atanh((act - c) / s);
                    e = (z - mean) / sd;
                    logp += -0.5 * e * e - ls - 0.5 * LOG_2PI;
                    if (head == ORL_POLICY_HEAD_TANH_GAUSSIAN)
                        logp -= log(1.0 - tanh(z) * tanh(z)) + log(s);
                    continue;
                }
                double z = mean + sd * e;
                logp += -0.5 * e * e - ls - 0.5 * LOG_2PI;
                if (head == ORL_POLICY_HEAD_TANH_GAUSSIAN) {
                    act = c + s * tanh(z);
                    logp -= log(1.0 - tanh(z) * tanh(z)) + log(s);
                } else {
                    act = z;
                }
            }
            loss += W[b * A + j] * act;
        }
        if (head != ORL_POLICY_HEAD_DETERMINISTIC) loss += V[b] * logp;
    }
    return loss;
}

Test(actor, backward_matches_finite_differences) {
    openblas_set_num_threads(1);
    enum { B = 4, S = 3, A = 2 };
    uint64_t seed = 105;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    orl_dataset *ds = make_data(64, &rng);
    orl_policy_head heads[3] = {ORL_POLICY_HEAD_DETERMINISTIC, ORL_POLICY_HEAD_TANH_GAUSSIAN,
                                ORL_POLICY_HEAD_GAUSSIAN};
    for (int hi = 0; hi < 3; hi++) {
        for (int path = 0; path < 2; path++) { /* 0: sample (with noise), 1: given actions */
            orl_policy_head head = heads[hi];
            if (path == 1 && head == ORL_POLICY_HEAD_DETERMINISTIC) continue;
            orl_actor_config cfg = orl_actor_defaults(head, B);
            cfg.hidden = 8;
            cfg.log_std_min = -3.0f;
            cfg.log_std_max = 1.0f;
            orl_actor *a;
            cr_assert_eq(orl_actor_create(&cfg, ds, "test", "{}", &rng, &a), ORL_OK);
            cr_assert_eq(orl_actor_policy(a)->act_low[0], -2.0f);
            float obs[B * S], W[B * A], V[B], act[B * A], logp[B], eps[B * A], given[B * A];
            orl_actor_normalize(a, ds->obs, B, obs);
            fill_normal(W, B * A, &rng);
            fill_normal(V, B, &rng);
            for (int i = 0; i < B * A; i++) given[i] = (float)(-1.5 + 2.0 * orl_rng_uniform(&rng));
            orl_rng noise = rng;
            orl_normal_fill(eps, B * A, &noise);
            if (path == 0)
                orl_actor_forward(a, obs, B, &rng, act,
                                  head == ORL_POLICY_HEAD_DETERMINISTIC ? NULL : logp);
            else
                orl_actor_log_prob(a, obs, B, given, logp);
            orl_actor_backward(a, path == 0 ? W : NULL, V);
            orl_fit *kit = orl_actor_kit(a);
            const orl_mlp *m = &kit->net;
            double *pd = params_double(m);
            /* the forward agrees with the reference's loss */
            double got = 0.0;
            for (int b = 0; b < B; b++) {
                if (path == 0)
                    for (int j = 0; j < A; j++) got += (double)W[b * A + j] * act[b * A + j];
                if (head != ORL_POLICY_HEAD_DETERMINISTIC) got += (double)V[b] * logp[b];
            }
            double want = ref_actor_loss(a, a, pd, obs, B, eps, path ? given : NULL, W, V, head,
                                         cfg.log_std_min, cfg.log_std_max);
            assert_close(got, want, 1e-4, 1e-5, "loss", hi);
            double h = 1e-6;
            for (int64_t i = 0; i < m->n_params; i++) {
                double keep = pd[i];
                pd[i] = keep + h;
                double lp = ref_actor_loss(a, a, pd, obs, B, eps, path ? given : NULL, W, V, head,
                                           cfg.log_std_min, cfg.log_std_max);
                pd[i] = keep - h;
                double lm = ref_actor_loss(a, a, pd, obs, B, eps, path ? given : NULL, W, V, head,
                                           cfg.log_std_min, cfg.log_std_max);
                pd[i] = keep;
                cr_assert(fabs(kit->grads[i] - (lp - lm) / (2 * h)) <=
                              1e-4 + 1e-3 * fabs((lp - lm) / (2 * h)),
                          "head %s path %d param %lld: got %.8g want %.8g (seed %llu)",
                          orl_policy_head_name(head), path, (long long)i, (double)kit->grads[i],
                          (lp - lm) / (2 * h), (unsigned long long)seed);
            }
            free(pd);
            orl_actor_free(a);
        }
    }
    orl_dataset_free(ds);
}

Test(actor, deterministic_forward_is_the_policy_and_target_follows) {
    openblas_set_num_threads(1);
    enum { B = 8, S = 3, A = 2 };
    orl_rng rng;
    orl_rng_seed(&rng, 106, 1);
    orl_dataset *ds = make_data(64, &rng);
    for (int hi = 0; hi < 2; hi++) {
        orl_policy_head head = hi ? ORL_POLICY_HEAD_TANH_GAUSSIAN : ORL_POLICY_HEAD_DETERMINISTIC;
        orl_actor_config cfg = orl_actor_defaults(head, B);
        cfg.hidden = 8;
        cfg.target = 1;
        orl_actor *a;
        cr_assert_eq(orl_actor_create(&cfg, ds, "test", "{}", &rng, &a), ORL_OK);
        float obs[B * S], act[B * A], pact[B * A], tact[B * A];
        orl_actor_normalize(a, ds->obs, B, obs);
        orl_actor_forward(a, obs, B, NULL, act, NULL);
        /* the live policy (which normalises itself) gives the same mean action */
        orl_policy_work *w;
        cr_assert_eq(orl_policy_work_create(orl_actor_policy(a), B, &w), ORL_OK);
        cr_assert_eq(orl_policy_act(orl_actor_policy(a), w, ds->obs, B, ORL_POLICY_MODE_MEAN, NULL,
                                    pact, NULL),
                     ORL_OK);
        for (int i = 0; i < B * A; i++) assert_close(act[i], pact[i], 1e-6, 1e-5, "act", i);
        orl_actor_target_forward(a, obs, B, tact);
        cr_assert_eq(memcmp(act, tact, sizeof act), 0);
        /* after a step the target lags until a Polyak update */
        float W[B * A];
        fill_normal(W, B * A, &rng);
        orl_actor_forward(a, obs, B, NULL, act, NULL);
        orl_actor_backward(a, W, NULL);
        orl_actor_step(a, 0.01f);
        orl_actor_forward(a, obs, B, NULL, act, NULL);
        orl_actor_target_forward(a, obs, B, tact);
        cr_assert_neq(memcmp(act, tact, sizeof act), 0);
        orl_actor_polyak(a, 1.0f);
        orl_actor_target_forward(a, obs, B, tact);
        cr_assert_eq(memcmp(act, tact, sizeof act), 0);
        orl_policy_work_free(w);
        orl_actor_free(a);
    }
    /* discrete data is refused */
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 2, 1, ORL_ACTION_KIND_DISCRETE, 3), ORL_OK);
    orl_dataset *dd;
    cr_assert_eq(orl_dataset_create(&h, 4, 4, &dd), ORL_OK);
    orl_header_free(&h);
    orl_actor_config cfg = orl_actor_defaults(ORL_POLICY_HEAD_DETERMINISTIC, B);
    orl_actor *a;
    cr_assert_eq(orl_actor_create(&cfg, dd, "test", "{}", &rng, &a), ORL_ERR_INPUT);
    cr_assert_null(a);
    orl_actor_free(NULL);
    orl_dataset_free(dd);
    orl_dataset_free(ds);
}

/* ---- the temperature ---- */

Test(temperature, loss_gradient_and_step) {
    enum { B = 5 };
    orl_temperature t;
    cr_assert_eq(orl_temperature_init(&t, 0.5f, -2.0f, 1e-2f), ORL_OK);
    assert_close(orl_temperature_alpha(&t), 0.5, 1e-7, 1e-6, "alpha", 0);
    float logp[B] = {3.0f, 2.5f, 1.0f, 4.0f, 2.0f}; /* mean 2.5: logp + target = 0.5 > 0 */
    double la = t.log_alpha;
    double want = -la * 0.5;
    /* the loss is linear in log_alpha: its gradient -mean(logp + target) by differences */
    double loss = orl_temperature_step(&t, logp, B);
    assert_close(loss, want, 1e-7, 1e-6, "loss", 0);
    /* Adam's first step moves by lr against the gradient's sign: alpha grows when the entropy
     * (-logp) is below its target */
    assert_close(t.log_alpha, la + 1e-2, 1e-6, 1e-5, "log_alpha", 0);
    for (int b = 0; b < B; b++) logp[b] = -5.0f;
    la = t.log_alpha;
    orl_temperature_step(&t, logp, B);
    cr_assert_lt(t.log_alpha, la);
    /* a caller's gradient (fresh moments: Adam's first step is lr against its sign) */
    cr_assert_eq(orl_temperature_init(&t, 1.0f, -2.0f, 1e-2f), ORL_OK);
    orl_temperature_step_grad(&t, -3.0);
    assert_close(t.log_alpha, 1e-2, 1e-6, 1e-5, "log_alpha", 1);
    orl_buffer buf[8];
    cr_assert_eq(orl_temperature_buffers(&t, "alpha", buf, 8, 0), 4);
    cr_assert_str_eq(buf[0].name, "alpha_log_alpha");
    cr_assert_eq(buf[0].ptr, &t.log_alpha);
    cr_assert_eq(orl_temperature_init(&t, 0.0f, -1.0f, 1e-3f), ORL_ERR_INPUT);
    cr_assert_eq(orl_temperature_init(&t, 1.0f, -1.0f, 0.0f), ORL_ERR_INPUT);
}

/* ---- checkpoint buffers and allocation ---- */

typedef struct ac_fixture {
    orl_critic *critic;
    orl_actor *actor;
    orl_temperature temp;
    float obs[16 * 3], act[16 * 2], pact[16 * 2], logp[16], dq[2 * 16], dact[16 * 2], y[16];
} ac_fixture;

/* one update of everything: the critic on (obs, act), the actor through Q_1, the temperature */
static void ac_update(ac_fixture *fx, orl_rng *rng) {
    enum { B = 16, A = 2 };
    fill_normal(fx->obs, B * 3, rng);
    fill_normal(fx->act, B * A, rng);
    fill_normal(fx->y, B, rng);
    orl_critic_target(fx->critic, fx->obs, fx->act, B, ORL_CRITIC_REDUCE_MIN, 0.0f, fx->y);
    const float *q = orl_critic_forward(fx->critic, fx->obs, fx->act, B);
    for (int k = 0; k < 2; k++)
        for (int b = 0; b < B; b++) fx->dq[k * B + b] = (q[k * B + b] - fx->y[b]) / B;
    orl_critic_backward(fx->critic, fx->dq);
    orl_critic_step(fx->critic, -1.0f);
    orl_critic_polyak(fx->critic, 0.005f);
    orl_actor_forward(fx->actor, fx->obs, B, rng, fx->pact, fx->logp);
    orl_critic_forward_members(fx->critic, fx->obs, fx->pact, B, 1);
    for (int b = 0; b < B; b++) fx->dq[b] = -1.0f / B;
    memset(fx->dact, 0, sizeof fx->dact);
    orl_critic_action_grad(fx->critic, fx->dq, fx->dact);
    float dlogp[B];
    for (int b = 0; b < B; b++) dlogp[b] = orl_temperature_alpha(&fx->temp) / B;
    orl_actor_backward(fx->actor, fx->dact, dlogp);
    orl_actor_step(fx->actor, -1.0f);
    orl_actor_polyak(fx->actor, 0.005f);
    orl_temperature_step(&fx->temp, fx->logp, B);
}

static void ac_setup(ac_fixture *fx, orl_dataset *ds, orl_rng *rng) {
    memset(fx, 0, sizeof *fx);
    orl_critic_config cc = small_critic(3, 2, 0, 2, 16);
    cr_assert_eq(orl_critic_create(&cc, rng, &fx->critic), ORL_OK);
    orl_actor_config acfg = orl_actor_defaults(ORL_POLICY_HEAD_TANH_GAUSSIAN, 16);
    acfg.hidden = 8;
    acfg.target = 1;
    acfg.lr = 1e-3f;
    cr_assert_eq(orl_actor_create(&acfg, ds, "test", "{}", rng, &fx->actor), ORL_OK);
    cr_assert_eq(orl_temperature_init(&fx->temp, 1.0f, -2.0f, 1e-3f), ORL_OK);
}

static int32_t ac_buffers(ac_fixture *fx, orl_buffer *out, int32_t cap) {
    int32_t n = orl_critic_buffers(fx->critic, "q", out, cap, 0);
    n = orl_actor_buffers(fx->actor, "actor", out, cap, n);
    return orl_temperature_buffers(&fx->temp, "alpha", out, cap, n);
}

Test(actor_critic, buffers_restore_the_exact_state) {
    openblas_set_num_threads(1);
    uint64_t seed = 107;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    orl_dataset *ds = make_data(64, &rng);
    ac_fixture *fx = malloc(sizeof *fx);
    ac_setup(fx, ds, &rng);
    orl_buffer buf[32];
    int32_t n = ac_buffers(fx, buf, 0);
    cr_assert_eq(n, 2 * 5 + 5 + 4, "buffers: %d", n);
    cr_assert_eq(ac_buffers(fx, buf, 32), n);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++) cr_assert_str_neq(buf[i].name, buf[j].name);
    cr_assert_str_eq(buf[0].name, "q0_params");
    cr_assert_str_eq(buf[5].name, "q1_params");
    for (int s = 0; s < 3; s++) ac_update(fx, &rng);
    /* snapshot, three more updates, restore, the same three again: the same bits */
    void *saved[32];
    for (int i = 0; i < n; i++) {
        saved[i] = malloc((size_t)buf[i].bytes);
        memcpy(saved[i], buf[i].ptr, (size_t)buf[i].bytes);
    }
    orl_rng rng_saved = rng;
    for (int s = 0; s < 3; s++) ac_update(fx, &rng);
    void *first[32];
    for (int i = 0; i < n; i++) {
        first[i] = malloc((size_t)buf[i].bytes);
        memcpy(first[i], buf[i].ptr, (size_t)buf[i].bytes);
        memcpy(buf[i].ptr, saved[i], (size_t)buf[i].bytes);
    }
    rng = rng_saved;
    for (int s = 0; s < 3; s++) ac_update(fx, &rng);
    for (int i = 0; i < n; i++) {
        cr_assert_eq(memcmp(first[i], buf[i].ptr, (size_t)buf[i].bytes), 0,
                     "buffer %s differs after restore (seed %llu)", buf[i].name,
                     (unsigned long long)seed);
        cr_assert_neq(memcmp(saved[i], buf[i].ptr, (size_t)buf[i].bytes), 0,
                      "buffer %s did not move", buf[i].name);
        free(saved[i]);
        free(first[i]);
    }
    orl_critic_free(fx->critic);
    orl_actor_free(fx->actor);
    free(fx);
    orl_dataset_free(ds);
}

#include "tests/alloc_count.h"

Test(actor_critic_alloc, none_in_forward_backward_step) {
#ifdef ORL_TEST_COUNT_ALLOCATIONS
    openblas_set_num_threads(1);
    orl_rng rng;
    orl_rng_seed(&rng, 108, 1);
    orl_dataset *ds = make_data(64, &rng);
    ac_fixture *fx = malloc(sizeof *fx);
    ac_setup(fx, ds, &rng);
    float lp[16];
    for (int round = 0; round < 2; round++) {
        if (round == 1) alloc_count_begin();
        ac_update(fx, &rng);
        orl_actor_log_prob(fx->actor, fx->obs, 16, fx->act, lp);
        orl_actor_backward(fx->actor, NULL, lp);
        orl_actor_target_forward(fx->actor, fx->obs, 16, fx->pact);
        orl_critic_target_copy(fx->critic);
        alloc_count_end();
    }
    cr_assert_eq(alloc_count, 0, "%ld allocations in actor-critic updates", alloc_count);
    orl_critic_free(fx->critic);
    orl_actor_free(fx->actor);
    free(fx);
    orl_dataset_free(ds);
#else
    cr_skip_test("allocation counting is unavailable under the sanitizers");
#endif
}

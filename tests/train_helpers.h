/* What the learner tests share:
 *   train_run       a training run, or a checkpointed one interrupted after stop_after steps
 *                   and resumed (checkpoints every TRAIN_CHECKPOINT_EVERY steps: 70 unless the
 *                   test defines it before including this)
 *   ref_forward     a ReLU MLP's forward pass in double, the reference of finite-difference
 *                   checks through networks up to 512 wide */
#ifndef ORL_TESTS_TRAIN_HELPERS_H
#define ORL_TESTS_TRAIN_HELPERS_H

#include "orl/nn.h"
#include "orl/train.h"

#include <criterion/criterion.h>
#include <stdio.h>

#ifndef TRAIN_CHECKPOINT_EVERY
#define TRAIN_CHECKPOINT_EVERY 70
#endif

/* trains with options opt (checkpointed and interrupted after stop_after steps, then resumed,
 * when ckpt is not NULL) */
static inline orl_policy *train_run(const orl_dataset *ds, orl_train_options opt, const char *ckpt,
                                    int64_t stop_after) {
    orl_policy *p = NULL;
    if (ckpt) {
        remove(ckpt);
        opt.checkpoint_path = ckpt;
        opt.checkpoint_every = TRAIN_CHECKPOINT_EVERY;
        opt.resume = 1;
        opt.stop_after = stop_after;
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_ERR_INTERRUPTED, "%s", orl_error_message());
        cr_assert_null(p);
        opt.stop_after = 0;
        orl_train_result res;
        cr_assert_eq(orl_train(ds, &opt, &p, &res), ORL_OK, "%s", orl_error_message());
        cr_assert_eq(res.resumed_from, stop_after);
        orl_train_result_free(&res);
    } else {
        cr_assert_eq(orl_train(ds, &opt, &p, NULL), ORL_OK, "%s", orl_error_message());
    }
    return p;
}

/* out (O) = ReLU MLP m with parameters params (double, laid out as m->params) on x (I) */
static inline void ref_forward(const orl_mlp *m, const double *params, const double *x,
                               double *out) {
    double a[2][512];
    int32_t L = m->cfg.n_layers;
    const double *in = x;
    for (int32_t l = 0; l < L; l++) {
        int32_t n_in = m->cfg.widths[l], n_out = m->cfg.widths[l + 1];
        cr_assert(n_out <= 512);
        const double *w = params + (m->w[l] - m->params), *b = params + (m->b[l] - m->params);
        double *o = l == L - 1 ? out : a[l % 2];
        for (int32_t i = 0; i < n_out; i++) {
            double s = b[i];
            for (int32_t j = 0; j < n_in; j++) s += w[(size_t)i * (size_t)n_in + (size_t)j] * in[j];
            o[i] = (l < L - 1 && s < 0.0) ? 0.0 : s;
        }
        in = o;
    }
}

#endif

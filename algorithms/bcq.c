/* BCQ, batch-constrained deep Q-learning, for continuous actions (Fujimoto, Meger & Precup
 * 2019; sfujim/BCQ, continuous_BCQ/BCQ.py) and for discrete actions (Fujimoto, Conti,
 * Ghavamzadeh & Pineau 2019, "Benchmarking batch deep RL"; sfujim/BCQ, discrete_BCQ), chosen by
 * the dataset's action space. Observations are normalised (eps 1e-3, stored in the policy)
 * unless normalize_obs=0 (the reference code does not normalise).
 *
 * Continuous, every step on a batch (s, a, r, s', terminal), in the reference's order:
 *   VAE:    loss = mean (D(s, z) - a)^2 + 0.5 KL, z = mu + sigma eps (nn/vae.c), Adam
 *   target: n_target candidates per s' from the VAE decoder (z ~ N(0, 1) clipped to +-0.5),
 *           each perturbed by the target perturbation network,
 *           a' = clip(a_i + phi h tanh(xi'(s', a_i)), lo, hi)   (h the half-range),
 *           q_i = lambda min_k Q'_k(s', a') + (1 - lambda) max_k Q'_k(s', a'),
 *           y = r + discount (1 - terminal) max_i q_i            (timeouts bootstrap)
 *   critic: sum_k mean_b (Q_k(s, a) - y)^2, Adam
 *   actor:  -mean_b Q_1(s, clip(a~ + phi h tanh(xi(s, a~)))), a~ a decoded action (detached),
 *           its gradient through Q_1 (the critic's own gradients untouched), Adam
 *   then Polyak (tau) of the critics' and the perturbation network's targets.
 * The result is a "bcq" policy (policy.h): decoder, perturbation network, Q_1, normaliser and
 * n_act fixed latents for its deterministic MEAN action.
 *
 * Discrete, every step: a Q-network and an imitation network (softmax logits) on s; allowed
 * actions at s' are those with pi_b(a|s') / max pi_b > threshold (orl_bcq_discrete_choose); the
 * Double-DQN target y = r + discount (1 - terminal) Q'(s', argmax_allowed Q(s', .)); loss
 * Huber(Q(s, a), y) + NLL(a | imitation) + imitation_reg mean(logits^2) (orl_bcq_discrete_loss),
 * Adam on both networks, Polyak (tau) of the Q-network's target. The result is a
 * "bcq_discrete" policy. (The reference applies a ReLU to the imitation logits of its
 * fully-connected network; here the logits are the network's linear output, as d3rlpy's.)
 *
 * No allocation in a step or a validation. Step metrics (continuous): vae_loss, critic_loss,
 * actor_loss, q_mean; validation: vae_recon (the reconstruction at z = mu) and td_error (against
 * the target from the policy's fixed latents). Discrete: loss, q_loss, imitation_loss, q_mean;
 * validation: td_error (Huber), imitation_nll. */
#include "orl/heads.h"
#include "orl/models.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const orl_hparam_def bcq_hparams[] = {
    {"discount", ORL_HPARAM_KIND_FLOAT, "0.99", NULL, "discount gamma (sfujim/BCQ: 0.99)"},
    {"tau", ORL_HPARAM_KIND_FLOAT, "0.005", NULL,
     "Polyak rate of the targets (sfujim/BCQ continuous and discrete non-Atari: 0.005)"},
    {"lambda", ORL_HPARAM_KIND_FLOAT, "0.75", NULL,
     "continuous: soft clipped double Q, lambda min + (1 - lambda) max (sfujim/BCQ: 0.75)"},
    {"phi", ORL_HPARAM_KIND_FLOAT, "0.05", NULL,
     "continuous: perturbation scale, times the action half-range (sfujim/BCQ: 0.05)"},
    {"n_target", ORL_HPARAM_KIND_INT, "10", NULL,
     "continuous: VAE actions per next state in the target (sfujim/BCQ: 10)"},
    {"n_act", ORL_HPARAM_KIND_INT, "10", NULL,
     "continuous: candidate actions when acting (issue 11: 10; sfujim/BCQ acts with 100)"},
    {"actor_lr", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL,
     "continuous: perturbation network Adam lr (sfujim/BCQ: 1e-3)"},
    {"critic_lr", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL,
     "continuous: critics' Adam lr (sfujim/BCQ: 1e-3)"},
    {"vae_lr", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL,
     "continuous: VAE Adam lr (sfujim/BCQ: PyTorch's default 1e-3)"},
    {"hidden1", ORL_HPARAM_KIND_INT, "400", NULL,
     "continuous: first hidden width of perturbation net and critics (sfujim/BCQ: 400)"},
    {"hidden2", ORL_HPARAM_KIND_INT, "300", NULL,
     "continuous: second hidden width of perturbation net and critics (sfujim/BCQ: 300)"},
    {"vae_hidden", ORL_HPARAM_KIND_INT, "750", NULL,
     "continuous: VAE encoder/decoder hidden width, 2 layers each (sfujim/BCQ: 750)"},
    {"latent_dim", ORL_HPARAM_KIND_INT, "0", NULL,
     "continuous: VAE latent size; 0 means 2 x action size (sfujim/BCQ: 2A)"},
    {"threshold", ORL_HPARAM_KIND_FLOAT, "0.3", NULL,
     "discrete: allowed if pi_b(a|s) / max pi_b > threshold (sfujim/BCQ discrete: 0.3)"},
    {"discrete_lr", ORL_HPARAM_KIND_FLOAT, "3e-4", NULL,
     "discrete: Adam lr of Q and imitation nets (sfujim/BCQ discrete non-Atari: 3e-4)"},
    {"discrete_hidden", ORL_HPARAM_KIND_INT, "256", NULL,
     "discrete: hidden width, 2 layers, of Q and imitation nets (sfujim/BCQ FC_Q: 256)"},
    {"imitation_reg", ORL_HPARAM_KIND_FLOAT, "1e-2", NULL,
     "discrete: weight of mean(logits^2) in the loss (sfujim/BCQ discrete: 1e-2)"},
    {"eval_epsilon", ORL_HPARAM_KIND_FLOAT, "0", NULL,
     "discrete: the policy's declared epsilon when sampling (sfujim/BCQ non-Atari eval_eps: 0)"},
    {"normalize_obs", ORL_HPARAM_KIND_INT, "1", NULL,
     "1: observation mean/std normalisation (eps 1e-3) stored in the policy (sfujim/BCQ: none)"},
    {NULL, 0, NULL, NULL, NULL}};

/* ---- the pieces tests check (train.h) ---- */

void orl_bcq_perturb(float *moved, const float *act, const float *u, const float *lo,
                     const float *hi, int32_t batch, int32_t act_dim, double phi) {
    /* tanh(u) of every element in one vector pass into moved (orl_tanh_fill), then the rest */
    orl_tanh_fill(moved, u, (int64_t)batch * act_dim);
    for (int32_t b = 0; b < batch; b++)
        for (int32_t j = 0; j < act_dim; j++) {
            size_t i = (size_t)b * (size_t)act_dim + (size_t)j;
            double h = 0.5 * ((double)hi[j] - (double)lo[j]);
            double a = (double)act[i] + phi * h * (double)moved[i];
            a = a < lo[j] ? lo[j] : a > hi[j] ? hi[j] : a;
            moved[i] = (float)a;
        }
}

void orl_bcq_perturb_backward(float *du, const float *dmoved, const float *act, const float *u,
                              const float *lo, const float *hi, int32_t batch, int32_t act_dim,
                              double phi) {
    for (int32_t b = 0; b < batch; b++)
        for (int32_t j = 0; j < act_dim; j++) {
            size_t i = (size_t)b * (size_t)act_dim + (size_t)j;
            double h = 0.5 * ((double)hi[j] - (double)lo[j]);
            float tf;
            orl_tanh_fill(&tf, &u[i], 1);
            double t = (double)tf;
            double a = (double)act[i] + phi * h * t;
            /* torch.clamp: the gradient passes inside [lo, hi] only */
            if (a < lo[j] || a > hi[j]) continue;
            du[i] += (float)((double)dmoved[i] * phi * h * (1.0 - t * t));
        }
}

double orl_bcq_discrete_loss(float *dq, float *dlogits, const float *q, const float *logits,
                             const int32_t *act, const float *y, int32_t batch, int32_t n,
                             double reg, double *q_loss, double *imitation_loss) {
    double hub = 0.0, nll = 0.0, sq = 0.0;
    for (int32_t b = 0; b < batch; b++) {
        const float *qr = q + (size_t)b * (size_t)n, *lr = logits + (size_t)b * (size_t)n;
        int32_t a = act[b];
        /* Huber (delta 1, PyTorch's smooth_l1_loss) of Q(s, a) - y, mean over b */
        double u = (double)qr[a] - (double)y[b], au = fabs(u);
        hub += au <= 1.0 ? 0.5 * u * u : au - 0.5;
        if (dq)
            dq[(size_t)b * (size_t)n + (size_t)a] +=
                (float)((au <= 1.0 ? u : (u > 0 ? 1.0 : -1.0)) / batch);
        /* NLL of the logged action under softmax(logits), and the logits' squares */
        double top = lr[0];
        for (int32_t k = 1; k < n; k++) top = lr[k] > top ? lr[k] : top;
        double z = 0.0;
        for (int32_t k = 0; k < n; k++) z += exp((double)lr[k] - top);
        double lse = top + log(z);
        nll += lse - (double)lr[a];
        for (int32_t k = 0; k < n; k++) {
            sq += (double)lr[k] * (double)lr[k];
            if (dlogits) {
                double p = exp((double)lr[k] - lse);
                double g = (p - (k == a ? 1.0 : 0.0)) / batch +
                           reg * 2.0 * (double)lr[k] / ((double)batch * n);
                dlogits[(size_t)b * (size_t)n + (size_t)k] += (float)g;
            }
        }
    }
    hub /= batch;
    nll /= batch;
    sq /= (double)batch * n;
    if (q_loss) *q_loss = hub;
    if (imitation_loss) *imitation_loss = nll;
    return hub + nll + reg * sq;
}

/* ---- state ---- */

typedef struct bcq_state {
    int discrete;
    double discount, tau, lambda, phi, threshold, reg;
    int32_t S, A, n_actions, Z, n_target, n_act, max_batch;
    orl_policy *policy; /* the current policy (normaliser, bounds; synced in bcq_policy) */
    orl_normalizer *norm;
    const float *lo, *hi; /* (A) the policy's bounds */
    orl_critic *critic;   /* continuous: twin 400-300 on [s, a]; discrete: one Q(s, .) */
    /* continuous */
    orl_vae vae;
    orl_vae_work vae_work;    /* the training forward / backward, B rows */
    orl_vae_work decode_work; /* decoding, B n_target rows */
    orl_adam vae_adam;
    orl_fit perturb; /* [s, a] -> u (A), with a target */
    /* discrete */
    orl_fit imitation; /* s -> logits (n) */
    int has_vae, has_vae_work, has_decode_work, has_vae_adam, has_perturb, has_imitation;
    /* scratch */
    float *vae_grads; /* (P_vae) */
    float *x, *xn;    /* (B, S) normalised observations, next observations */
    float *z;         /* (B n, Z) latents */
    float *cand;      /* (B n, A) decoded candidates */
    float *sa;        /* (B n, S + A) perturbation input rows */
    float *moved;     /* (B n, A) perturbed candidates */
    float *tq;        /* (B n) mixed target values */
    float *y;         /* (B) targets */
    float *dq;        /* (K, B n) critic gradient; (B, n) discrete */
    float *dmoved;    /* (B, A) */
    float *du;        /* (B, A) */
    float *qcopy;     /* (B, n) discrete: Q(s', .) of the online network */
    float *dlogits;   /* (B, n) */
    float *zero_eps;  /* (B, Z) zeros: validation's z = mu */
    void *mem;
} bcq_state;

static void bcq_free(void *state) {
    bcq_state *s = state;
    if (!s) return;
    orl_policy_free(s->policy);
    orl_critic_free(s->critic);
    if (s->has_vae_work) orl_vae_work_free(&s->vae_work);
    if (s->has_decode_work) orl_vae_work_free(&s->decode_work);
    if (s->has_vae_adam) orl_adam_free(&s->vae_adam);
    if (s->has_vae) orl_vae_free(&s->vae);
    if (s->has_perturb) orl_fit_free(&s->perturb);
    if (s->has_imitation) orl_fit_free(&s->imitation);
    free(s->mem);
    free(s);
}

static orl_mlp_config relu_mlp(int32_t in, int32_t h1, int32_t h2, int32_t out) {
    orl_mlp_config m;
    memset(&m, 0, sizeof m);
    m.n_layers = 3;
    m.widths[0] = in;
    m.widths[1] = h1;
    m.widths[2] = h2;
    m.widths[3] = out;
    m.activation = ORL_ACTIVATION_RELU;
    m.init = ORL_INIT_FAN_IN_UNIFORM;
    return m;
}

static orl_status create_continuous(bcq_state *s, const orl_learner_context *ctx,
                                    const orl_normalizer *norm, orl_rng *rng) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    int32_t S = s->S, A = s->A, B = ctx->max_batch;
    int32_t h1 = (int32_t)orl_hparams_number(hp, "hidden1");
    int32_t h2 = (int32_t)orl_hparams_number(hp, "hidden2");
    int32_t vh = (int32_t)orl_hparams_number(hp, "vae_hidden");
    int32_t latent = (int32_t)orl_hparams_number(hp, "latent_dim");
    s->Z = latent > 0 ? latent : 2 * A;
    s->n_target = (int32_t)orl_hparams_number(hp, "n_target");
    s->n_act = (int32_t)orl_hparams_number(hp, "n_act");
    s->lambda = orl_hparams_number(hp, "lambda");
    s->phi = orl_hparams_number(hp, "phi");
    double alr = orl_hparams_number(hp, "actor_lr"), clr = orl_hparams_number(hp, "critic_lr");
    double vlr = orl_hparams_number(hp, "vae_lr");
    if (h1 < 1 || h2 < 1 || vh < 1 || latent < 0 || s->n_target < 1 || s->n_act < 1 ||
        !(s->lambda >= 0.0 && s->lambda <= 1.0) || !(s->phi >= 0.0) || !(alr > 0.0) ||
        !(clr > 0.0) || !(vlr > 0.0))
        ORL_FAIL(ORL_ERR_INPUT, "bcq: expected hidden1, hidden2, vae_hidden, n_target, n_act >= 1, "
                                "latent_dim >= 0, lambda in [0, 1], phi >= 0, learning rates > 0");
    /* candidate rows: n_target per state in a step, n_act in a validation */
    int32_t m = s->n_target > s->n_act ? s->n_target : s->n_act;
    if ((int64_t)B * m > INT32_MAX / 8)
        ORL_FAIL(ORL_ERR_INPUT, "bcq: batch %d x %d candidates is too many rows", B, m);
    int32_t Bn = B * m, Z = s->Z;

    /* the bounds: the header's where finite, else the observed range widened */
    float *bounds = malloc(2 * (size_t)A * sizeof(float));
    if (!bounds) ORL_FAIL(ORL_ERR_NOMEM, "bcq: out of memory");
    orl_imitation_action_bounds(ds, ORL_POLICY_HEAD_DETERMINISTIC, bounds, bounds + A);

    /* the networks, in the reference's order of construction: actor, critic, VAE */
    orl_status st = ORL_OK;
    orl_mlp_config pc = relu_mlp(S + A, h1, h2, A);
    orl_fit_config fc = orl_fit_defaults((float)alr, Bn);
    fc.target = 1;
    ORL_TRY_GOTO(st, done, orl_fit_init(&s->perturb, &pc, &fc, rng));
    s->has_perturb = 1;
    orl_critic_config cc = orl_critic_defaults(S, A, 0, Bn);
    cc.members = 2;
    cc.layers = 2;
    cc.hidden = h1;
    cc.widths[0] = h1;
    cc.widths[1] = h2;
    cc.lr = (float)clr;
    ORL_TRY_GOTO(st, done, orl_critic_create(&cc, rng, &s->critic));
    orl_vae_config vc = {S, A, Z, vh, 2, ORL_ACTIVATION_RELU};
    ORL_TRY_GOTO(st, done, orl_vae_create(&s->vae, &vc, bounds, bounds + A, rng));
    s->has_vae = 1;
    ORL_TRY_GOTO(st, done, orl_vae_work_init(&s->vae_work, &s->vae, B));
    s->has_vae_work = 1;
    ORL_TRY_GOTO(st, done, orl_vae_work_init(&s->decode_work, &s->vae, Bn));
    s->has_decode_work = 1;
    orl_adam_config ad = orl_adam_defaults();
    ad.lr = (float)vlr;
    ORL_TRY_GOTO(st, done, orl_adam_init(&s->vae_adam, &ad, s->vae.n_params));
    s->has_vae_adam = 1;

    /* the policy: its latents are the next draws of rng (N(0, 1) clipped to +-0.5) */
    int32_t n = s->n_act;
    size_t nz = (size_t)n * (size_t)Z;
    float *latents = malloc(nz * sizeof(float));
    if (!latents) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "bcq: out of memory");
    for (size_t i = 0; i < nz; i++) {
        double v = orl_rng_normal(rng);
        latents[i] = (float)(v > 0.5 ? 0.5 : v < -0.5 ? -0.5 : v);
    }
    orl_policy_bcq_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "bcq";
    spec.info.config_json = ctx->config_json;
    spec.info.obs_dim = S;
    spec.info.act_dim = A;
    spec.info.action_kind = ORL_ACTION_KIND_CONTINUOUS;
    spec.info.act_low = bounds;
    spec.info.act_high = bounds + A;
    spec.decoder = s->vae.dec.cfg;
    spec.perturb = pc;
    spec.critic = orl_critic_member(s->critic, 0)->net.cfg;
    spec.latent_dim = Z;
    spec.n_candidates = n;
    spec.phi = (float)s->phi;
    st = orl_policy_bcq_create(&spec, norm, s->vae.dec.params, s->perturb.net.params,
                               orl_critic_member(s->critic, 0)->net.params, latents, &s->policy);
    free(latents);
    if (st != ORL_OK) goto done;
    orl_policy_bcq_view v;
    orl_policy_bcq_views(s->policy, &v);
    s->norm = v.norm;
    s->lo = s->policy->act_low;
    s->hi = s->policy->act_high;

    /* scratch */
    size_t b = (size_t)B, bn = (size_t)Bn, Sz = (size_t)S, Az = (size_t)A, Zz = (size_t)Z;
    size_t floats = (size_t)s->vae.n_params + 2 * b * Sz + bn * Zz + bn * Az + bn * (Sz + Az) +
                    bn * Az + bn + b + 2 * bn + 2 * b * Az + b * Zz;
    float *p = calloc(floats, sizeof(float));
    if (!p) ORL_FAIL_GOTO(st, done, ORL_ERR_NOMEM, "bcq: out of memory");
    s->mem = p;
    s->vae_grads = p, p += s->vae.n_params;
    s->x = p, p += b * Sz;
    s->xn = p, p += b * Sz;
    s->z = p, p += bn * Zz;
    s->cand = p, p += bn * Az;
    s->sa = p, p += bn * (Sz + Az);
    s->moved = p, p += bn * Az;
    s->tq = p, p += bn;
    s->y = p, p += b;
    s->dq = p, p += 2 * bn;
    s->dmoved = p, p += b * Az;
    s->du = p, p += b * Az;
    s->zero_eps = p;
done:
    free(bounds);
    return st;
}

static orl_status create_discrete(bcq_state *s, const orl_learner_context *ctx,
                                  const orl_normalizer *norm, orl_rng *rng) {
    const orl_hparams *hp = ctx->hp;
    int32_t S = s->S, n = s->n_actions, B = ctx->max_batch;
    int32_t h = (int32_t)orl_hparams_number(hp, "discrete_hidden");
    double lr = orl_hparams_number(hp, "discrete_lr");
    s->threshold = orl_hparams_number(hp, "threshold");
    s->reg = orl_hparams_number(hp, "imitation_reg");
    double eps = orl_hparams_number(hp, "eval_epsilon");
    if (h < 1 || !(lr > 0.0) || !(s->threshold >= 0.0 && s->threshold < 1.0) || !(s->reg >= 0.0) ||
        !(eps >= 0.0 && eps <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "bcq (discrete): expected discrete_hidden >= 1, discrete_lr > 0, "
                                "threshold in [0, 1), imitation_reg >= 0, eval_epsilon in [0, 1]");
    /* Q-network first (the reference's FC_Q builds q1..q3, then i1..i3) */
    orl_critic_config cc = orl_critic_defaults(S, 0, n, B);
    cc.members = 1;
    cc.hidden = h;
    cc.layers = 2;
    cc.lr = (float)lr;
    ORL_TRY(orl_critic_create(&cc, rng, &s->critic));
    orl_mlp_config ic = relu_mlp(S, h, h, n);
    orl_fit_config fc = orl_fit_defaults((float)lr, B);
    ORL_TRY(orl_fit_init(&s->imitation, &ic, &fc, rng));
    s->has_imitation = 1;

    orl_policy_bcq_discrete_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "bcq";
    spec.info.config_json = ctx->config_json;
    spec.info.obs_dim = S;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    spec.info.n_actions = n;
    spec.q = orl_critic_member(s->critic, 0)->net.cfg;
    spec.imitation = ic;
    spec.threshold = (float)s->threshold;
    spec.epsilon = (float)eps;
    ORL_TRY(orl_policy_bcq_discrete_create(&spec, norm, orl_critic_member(s->critic, 0)->net.params,
                                           s->imitation.net.params, &s->policy));
    orl_policy_bcq_discrete_views(s->policy, NULL, NULL, &s->norm);

    size_t b = (size_t)B, Sz = (size_t)S, nz = (size_t)n;
    float *p = calloc(2 * b * Sz + b + 3 * b * nz, sizeof(float));
    if (!p) ORL_FAIL(ORL_ERR_NOMEM, "bcq: out of memory");
    s->mem = p;
    s->x = p, p += b * Sz;
    s->xn = p, p += b * Sz;
    s->y = p, p += b;
    s->dq = p, p += b * nz;
    s->qcopy = p, p += b * nz;
    s->dlogits = p;
    return ORL_OK;
}

static orl_status bcq_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    bcq_state *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "bcq: out of memory");
    orl_status st = ORL_OK;
    orl_normalizer norm = {0};
    s->discrete = ds->h.action_kind == ORL_ACTION_KIND_DISCRETE;
    s->discount = orl_hparams_number(hp, "discount");
    s->tau = orl_hparams_number(hp, "tau");
    s->S = ds->h.obs_dim;
    s->A = s->discrete ? 1 : ds->h.act_dim;
    s->n_actions = s->discrete ? ds->h.n_actions : 0;
    s->max_batch = ctx->max_batch;
    if (!(s->discount >= 0.0 && s->discount <= 1.0) || !(s->tau >= 0.0 && s->tau <= 1.0))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT, "bcq: expected discount and tau in [0, 1]");
    if (orl_hparams_number(hp, "normalize_obs") != 0.0)
        ORL_TRY_GOTO(st, fail, orl_normalizer_fit(&norm, ds->obs, ds->n_steps, s->S, 1e-3f));
    const orl_normalizer *nm = norm.mean ? &norm : NULL;
    if (s->discrete)
        ORL_TRY_GOTO(st, fail, create_discrete(s, ctx, nm, rng));
    else
        ORL_TRY_GOTO(st, fail, create_continuous(s, ctx, nm, rng));
    orl_normalizer_free(&norm);
    *state = s;
    return ORL_OK;
fail:
    orl_normalizer_free(&norm);
    bcq_free(s);
    return st;
}

static const char *const cont_step_names[] = {"vae_loss", "critic_loss", "actor_loss", "q_mean"};
static const char *const cont_val_names[] = {"vae_recon", "td_error"};
static const char *const disc_step_names[] = {"loss", "q_loss", "imitation_loss", "q_mean"};
static const char *const disc_val_names[] = {"td_error", "imitation_nll"};

static orl_metric_names bcq_metrics(void *state, orl_metric_kind kind) {
    bcq_state *s = state;
    if (kind == ORL_METRIC_KIND_STEP)
        return (orl_metric_names){4, s->discrete ? disc_step_names : cont_step_names};
    return (orl_metric_names){2, s->discrete ? disc_val_names : cont_val_names};
}

static void bcq_sampling(void *state, orl_learner_sampling *out) {
    (void)state;
    *out = (orl_learner_sampling){NULL, 0, NULL};
}

/* ---- continuous ---- */

#define TARGET_CHUNK 256 /* rows of the target computation per pass at most (cont_target) */

/* y (B) = r + discount (1 - terminal) max_i mixed Q'(s', a'_i) over m candidates per s' from
 * the decoder with latents drawn from rng (NULL: the policy's fixed latents, m = n_act);
 * s->xn must hold s' normalised. The m candidate rows of a state share its observation: the
 * first layers of the decoder, the target perturbation and the target critics take the
 * observation's part once per state (orl_mlp_forward_shared), not once per candidate. */
static void cont_target(bcq_state *s, const orl_batch *batch, orl_rng *rng) {
    int32_t B = batch->size, S = s->S, A = s->A, Z = s->Z;
    int32_t m = rng ? s->n_target : s->n_act;
    int32_t rows = B * m;
    orl_policy_bcq_view v;
    orl_policy_bcq_views(s->policy, &v);
    /* the latents: fresh normals in one vectorised fill, or the policy's fixed ones */
    if (rng)
        orl_rng_normal_fill(rng, s->z, (int64_t)rows * Z);
    else
        for (int32_t r = 0; r < rows; r++)
            memcpy(s->z + (size_t)r * (size_t)Z, v.latents + (size_t)(r % m) * (size_t)Z,
                   (size_t)Z * sizeof(float));
    /* decoder, target perturbation and target critics over whole states' candidates, at most
     * TARGET_CHUNK rows (or one state's) at a time: the activations of a chunk stay in cache from
     * one network to the next (B m rows at once stream several megabytes through memory) */
    int32_t per = TARGET_CHUNK / m > 0 ? TARGET_CHUNK / m : 1; /* states per chunk */
    for (int32_t b0 = 0; b0 < B; b0 += per) {
        int32_t r0 = b0 * m, n = (B - b0 < per ? B - b0 : per) * m;
        const float *xn = s->xn + (size_t)b0 * (size_t)S; /* (n / m, S) */
        float *cand = s->cand + (size_t)r0 * (size_t)A, *moved = s->moved + (size_t)r0 * (size_t)A;
        orl_vae_decode_shared(&s->vae, &s->decode_work, xn, m, s->z + (size_t)r0 * (size_t)Z, n,
                              cand);
        const float *u = orl_fit_target_forward_shared(&s->perturb, xn, S, m, cand, n);
        orl_bcq_perturb(moved, cand, u, s->lo, s->hi, n, A, s->phi);
        orl_critic_target_shared(s->critic, xn, m, moved, n, ORL_CRITIC_REDUCE_MIX,
                                 (float)s->lambda, s->tq + r0);
    }
    for (int32_t b = 0; b < B; b++) {
        float best = s->tq[(size_t)b * (size_t)m];
        for (int32_t i = 1; i < m; i++) {
            float q = s->tq[(size_t)b * (size_t)m + (size_t)i];
            best = q > best ? q : best;
        }
        s->y[b] = (float)((double)batch->rew[b] +
                          s->discount * (batch->terminal[b] ? 0.0 : 1.0) * (double)best);
    }
}

/* the critics' mean squared TD errors against s->y: sum over members (grad into s->dq when
 * want_grad) and *q_mean */
static double cont_critic_loss(bcq_state *s, const orl_batch *batch, int want_grad,
                               double *q_mean) {
    int32_t B = batch->size;
    const float *q = orl_critic_forward(s->critic, s->x, batch->act, B);
    double loss = 0.0, q_sum = 0.0;
    for (int32_t k = 0; k < 2; k++) {
        double sum = 0.0;
        for (int32_t b = 0; b < B; b++) {
            size_t i = (size_t)k * (size_t)B + (size_t)b;
            double u = (double)q[i] - (double)s->y[b];
            sum += u * u;
            q_sum += (double)q[i];
            if (want_grad) s->dq[i] = (float)(2.0 * u / B);
        }
        loss += sum / B;
    }
    *q_mean = q_sum / (2.0 * B);
    return loss;
}

static orl_status cont_step(bcq_state *s, const orl_batch *batch, orl_rng *rng, double *metrics) {
    int32_t B = batch->size, S = s->S, A = s->A;
    orl_normalizer_apply(s->norm, batch->obs, B, s->x);
    orl_normalizer_apply(s->norm, batch->next_obs, B, s->xn);

    /* the VAE */
    double vae_loss;
    ORL_TRY(orl_vae_forward(&s->vae, &s->vae_work, s->x, batch->act, B, NULL, rng, &vae_loss));
    memset(s->vae_grads, 0, (size_t)s->vae.n_params * sizeof(float));
    orl_vae_backward(&s->vae, &s->vae_work, s->vae_grads, 1.0f, NULL, NULL);
    orl_adam_step(&s->vae_adam, s->vae.params, s->vae_grads, -1.0f);

    /* the critics */
    cont_target(s, batch, rng);
    double q_mean, critic_loss = cont_critic_loss(s, batch, 1, &q_mean);
    if (!isfinite(critic_loss)) ORL_FAIL(ORL_ERR_NUMERIC, "bcq: critic loss is %g", critic_loss);
    orl_critic_backward(s->critic, s->dq);
    orl_critic_step(s->critic, -1.0f);

    /* the perturbation network on decoded actions of s, through Q_1 */
    orl_rng_normal_fill(rng, s->z, (int64_t)B * s->Z);
    orl_vae_decode(&s->vae, &s->decode_work, s->x, s->z, B, NULL, s->cand);
    for (int32_t b = 0; b < B; b++) {
        float *row = s->sa + (size_t)b * (size_t)(S + A);
        memcpy(row, s->x + (size_t)b * (size_t)S, (size_t)S * sizeof(float));
        memcpy(row + S, s->cand + (size_t)b * (size_t)A, (size_t)A * sizeof(float));
    }
    const float *u = orl_fit_forward(&s->perturb, s->sa, B);
    orl_bcq_perturb(s->moved, s->cand, u, s->lo, s->hi, B, A, s->phi);
    const float *q1 = orl_critic_forward_members(s->critic, s->x, s->moved, B, 1);
    double actor_loss = 0.0;
    for (int32_t b = 0; b < B; b++) {
        actor_loss -= (double)q1[b];
        s->dq[b] = -1.0f / (float)B;
    }
    actor_loss /= B;
    if (!isfinite(actor_loss)) ORL_FAIL(ORL_ERR_NUMERIC, "bcq: actor loss is %g", actor_loss);
    memset(s->dmoved, 0, (size_t)B * (size_t)A * sizeof(float));
    orl_critic_action_grad(s->critic, s->dq, s->dmoved);
    memset(s->du, 0, (size_t)B * (size_t)A * sizeof(float));
    orl_bcq_perturb_backward(s->du, s->dmoved, s->cand, u, s->lo, s->hi, B, A, s->phi);
    orl_fit_backward(&s->perturb, s->du, NULL);
    orl_fit_step(&s->perturb, -1.0f);

    /* the targets */
    orl_critic_polyak(s->critic, (float)s->tau);
    orl_fit_polyak(&s->perturb, (float)s->tau);
    metrics[0] = vae_loss;
    metrics[1] = critic_loss;
    metrics[2] = actor_loss;
    metrics[3] = q_mean;
    return ORL_OK;
}

static orl_status cont_validate(bcq_state *s, const orl_batch *batch, double *metrics) {
    int32_t B = batch->size;
    orl_normalizer_apply(s->norm, batch->obs, B, s->x);
    orl_normalizer_apply(s->norm, batch->next_obs, B, s->xn);
    double loss;
    ORL_TRY(orl_vae_forward(&s->vae, &s->vae_work, s->x, batch->act, B, s->zero_eps, NULL, &loss));
    metrics[0] = s->vae_work.recon_loss;
    cont_target(s, batch, NULL);
    double q_mean;
    metrics[1] = cont_critic_loss(s, batch, 0, &q_mean) / 2.0;
    return ORL_OK;
}

/* ---- discrete ---- */

/* y (B): the Double-DQN target over the allowed actions at s' (s->xn normalised) */
static void disc_target(bcq_state *s, const orl_batch *batch) {
    int32_t B = batch->size, n = s->n_actions;
    const float *q = orl_critic_forward(s->critic, s->xn, NULL, B);
    memcpy(s->qcopy, q, (size_t)B * (size_t)n * sizeof(float));
    const float *logits = orl_fit_forward(&s->imitation, s->xn, B);
    const float *qt = orl_critic_target_forward(s->critic, s->xn, NULL, B);
    for (int32_t b = 0; b < B; b++) {
        int32_t a = orl_bcq_discrete_choose(s->qcopy + (size_t)b * (size_t)n,
                                            logits + (size_t)b * (size_t)n, n, s->threshold, NULL);
        s->y[b] =
            (float)((double)batch->rew[b] + s->discount * (batch->terminal[b] ? 0.0 : 1.0) *
                                                (double)qt[(size_t)b * (size_t)n + (size_t)a]);
    }
}

static orl_status disc_step(bcq_state *s, const orl_batch *batch, double *metrics) {
    int32_t B = batch->size, n = s->n_actions;
    orl_normalizer_apply(s->norm, batch->obs, B, s->x);
    orl_normalizer_apply(s->norm, batch->next_obs, B, s->xn);
    disc_target(s, batch);
    const float *q = orl_critic_forward(s->critic, s->x, NULL, B);
    const float *logits = orl_fit_forward(&s->imitation, s->x, B);
    memset(s->dq, 0, (size_t)B * (size_t)n * sizeof(float));
    memset(s->dlogits, 0, (size_t)B * (size_t)n * sizeof(float));
    double q_loss, i_loss;
    double loss = orl_bcq_discrete_loss(s->dq, s->dlogits, q, logits, batch->act_idx, s->y, B, n,
                                        s->reg, &q_loss, &i_loss);
    if (!isfinite(loss))
        ORL_FAIL(ORL_ERR_NUMERIC, "bcq: loss is %g (Q %g, imitation %g)", loss, q_loss, i_loss);
    double q_sum = 0.0;
    for (int32_t b = 0; b < B; b++)
        q_sum += (double)q[(size_t)b * (size_t)n + (size_t)batch->act_idx[b]];
    orl_critic_backward(s->critic, s->dq);
    orl_critic_step(s->critic, -1.0f);
    orl_fit_backward(&s->imitation, s->dlogits, NULL);
    orl_fit_step(&s->imitation, -1.0f);
    orl_critic_polyak(s->critic, (float)s->tau);
    metrics[0] = loss;
    metrics[1] = q_loss;
    metrics[2] = i_loss;
    metrics[3] = q_sum / B;
    return ORL_OK;
}

static orl_status disc_validate(bcq_state *s, const orl_batch *batch, double *metrics) {
    int32_t B = batch->size, n = s->n_actions;
    orl_normalizer_apply(s->norm, batch->obs, B, s->x);
    orl_normalizer_apply(s->norm, batch->next_obs, B, s->xn);
    disc_target(s, batch);
    const float *q = orl_critic_forward(s->critic, s->x, NULL, B);
    const float *logits = orl_fit_forward(&s->imitation, s->x, B);
    double q_loss, i_loss;
    orl_bcq_discrete_loss(NULL, NULL, q, logits, batch->act_idx, s->y, B, n, s->reg, &q_loss,
                          &i_loss);
    metrics[0] = q_loss;
    metrics[1] = i_loss;
    return ORL_OK;
}

/* ---- ops ---- */

static orl_status bcq_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                           double *metrics) {
    (void)step;
    bcq_state *s = state;
    return s->discrete ? disc_step(s, batch, metrics) : cont_step(s, batch, rng, metrics);
}

static orl_status bcq_validate(void *state, const orl_batch *batch, double *metrics) {
    bcq_state *s = state;
    return s->discrete ? disc_validate(s, batch, metrics) : cont_validate(s, batch, metrics);
}

/* copies the live networks into the policy */
static void sync_policy(bcq_state *s) {
    if (s->discrete) {
        orl_mlp *q, *im;
        orl_policy_bcq_discrete_views(s->policy, &q, &im, NULL);
        orl_params_copy(q->params, orl_critic_member(s->critic, 0)->net.params, q->n_params);
        orl_params_copy(im->params, s->imitation.net.params, im->n_params);
        return;
    }
    orl_policy_bcq_view v;
    orl_policy_bcq_views(s->policy, &v);
    orl_params_copy(v.decoder->params, s->vae.dec.params, v.decoder->n_params);
    orl_params_copy(v.perturb->params, s->perturb.net.params, v.perturb->n_params);
    orl_params_copy(v.critic->params, orl_critic_member(s->critic, 0)->net.params,
                    v.critic->n_params);
}

static const orl_policy *bcq_policy(void *state) {
    bcq_state *s = state;
    sync_policy(s);
    return s->policy;
}

static orl_status bcq_export_policy(void *state, orl_policy **out) {
    bcq_state *s = state;
    sync_policy(s);
    /* the state is freed right after: hand over its policy */
    *out = s->policy;
    s->policy = NULL;
    return ORL_OK;
}

static int32_t bcq_buffers(void *state, orl_buffer *out, int32_t cap) {
    bcq_state *s = state;
    int32_t n = orl_critic_buffers(s->critic, "q", out, cap, 0);
    if (s->discrete) return orl_fit_buffers(&s->imitation, "imitation", out, cap, n);
    n = orl_fit_buffers(&s->perturb, "perturb", out, cap, n);
    size_t P = (size_t)s->vae.n_params * sizeof(float);
    orl_buffer_put(out, cap, &n, "vae", "params", s->vae.params, (int64_t)P);
    orl_buffer_put(out, cap, &n, "vae", "adam_m", s->vae_adam.m, (int64_t)P);
    orl_buffer_put(out, cap, &n, "vae", "adam_v", s->vae_adam.v, (int64_t)P);
    orl_buffer_put(out, cap, &n, "vae", "adam_t", &s->vae_adam.t, (int64_t)sizeof s->vae_adam.t);
    return n;
}

const orl_learner_ops orl_learner_bcq = {
    .name = "bcq",
    .summary = "BCQ: VAE + perturbation + soft clipped twin critics (continuous); Q + imitation "
               "threshold (discrete); batch 100 / 64 as sfujim/BCQ",
    .hparams = bcq_hparams,
    .batch_continuous = 100, /* sfujim/BCQ continuous_BCQ */
    .batch_discrete = 64,    /* sfujim/BCQ discrete_BCQ, non-Atari */
    .create = bcq_create,
    .metrics = bcq_metrics,
    .sampling = bcq_sampling,
    .step = bcq_step,
    .validate = bcq_validate,
    .policy = bcq_policy,
    .export_policy = bcq_export_policy,
    .buffers = bcq_buffers,
    .free = bcq_free,
};

/* Policy and value heads over a network's raw output, the regression losses, BCQ's VAE and
 * ensembles of MLPs.
 *
 * A head turns the raw output of a network (B rows) into actions, log-probabilities or entropies
 * and back: each is a forward/backward pair over raw float arrays, llm.c style. Backward
 * functions accumulate (+=) into the gradient of the network output, so a loss built from
 * several heads adds its parts into one buffer. Nothing here allocates except the _init/_create
 * functions; nothing prints. Reductions of losses and log-densities are done in double, inputs
 * and outputs are float32.
 *
 * Shapes use the letters of orl/nn.h: B batch, A action size, S observation size, Z latent size,
 * K ensemble members, I and O a network's input and output widths, P its parameter count; n is
 * the number of discrete actions.
 *
 * Action bounds: wherever lo and hi (A) appear they may both be NULL, meaning [-1, 1]. A squashed
 * action is a = lo + (hi - lo) (tanh(u) + 1) / 2 = c + s tanh(u) with c = (hi + lo) / 2 and
 * s = (hi - lo) / 2 per dimension.
 *
 * Log-std of the Gaussian heads (orl_gaussian_head): the smooth tanh rescaling of many SAC/CQL
 * implementations, log_std = min + (max - min) (tanh(raw) + 1) / 2, which keeps a non-zero
 * gradient everywhere (a hard clamp would silence the gradient of a saturated row). The VAE
 * instead clamps hard to [-4, 15], as BCQ does. */
#ifndef ORL_HEADS_H
#define ORL_HEADS_H

#include "orl/nn.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stdint.h>

/* ---- deterministic tanh action head (TD3+BC, BCQ's perturbation, BC) ---- */

/* act (B, A) = lo + (hi - lo) (tanh(u) + 1) / 2, u (B, A) the raw network output */
void orl_tanh_head_forward(float *act, const float *u, const float *lo, const float *hi,
                           int32_t batch, int32_t act_dim);

/* du (B, A) += dact (B, A) * d act / d u, recomputed from u */
void orl_tanh_head_backward(float *du, const float *dact, const float *u, const float *lo,
                            const float *hi, int32_t batch, int32_t act_dim);

/* ---- Gaussian heads: the network output is (B, 2A) = [mean | raw log-std] per row ---- */

typedef struct orl_gaussian_head {
    int32_t act_dim;   /* A */
    float log_std_min; /* -5 (CQL) or -20 (SAC) typical */
    float log_std_max; /* 2 typical; log_std_min < log_std_max */
    const float *lo;   /* (A) lower action bounds of the tanh-squashed head, NULL: -1 */
    const float *hi;   /* (A) upper bounds, NULL: +1; lo and hi are NULL together */
} orl_gaussian_head;

/* log_std (B, A) of the head's rescaling of the raw log-std half of out (B, 2A) */
void orl_gaussian_log_std(const orl_gaussian_head *h, float *log_std, const float *out,
                          int32_t batch);

/* diagonal Gaussian: logp (B) = log N(act (B, A); mean, exp(log_std)), summed over A in double */
void orl_gaussian_log_prob_forward(const orl_gaussian_head *h, float *logp, const float *out,
                                   const float *act, int32_t batch);

/* dout (B, 2A) += dlogp (B) * d logp / d out */
void orl_gaussian_log_prob_backward(const orl_gaussian_head *h, float *dout, const float *dlogp,
                                    const float *out, const float *act, int32_t batch);

/* entropy (B) = sum over A of log_std + (1 + log 2 pi) / 2 */
void orl_gaussian_entropy_forward(const orl_gaussian_head *h, float *entropy, const float *out,
                                  int32_t batch);

/* dout (B, 2A) += dentropy (B) * d entropy / d out (only the log-std half is touched) */
void orl_gaussian_entropy_backward(const orl_gaussian_head *h, float *dout, const float *dentropy,
                                   const float *out, int32_t batch);

/* act (B, A) = mean + exp(log_std) eps with eps ~ N(0, 1) from rng (row by row, dimension by
 * dimension); rng NULL gives the mean */
void orl_gaussian_sample(const orl_gaussian_head *h, float *act, const float *out, int32_t batch,
                         orl_rng *rng);

/* ---- tanh-squashed Gaussian (SAC, CQL) ----
 * z = mean + exp(log_std) eps, act = c + s tanh(z), and the exact density of act:
 *   log p(act) = sum_j [ log N(z_j; mean_j, std_j) - log(1 - tanh(z_j)^2) - log s_j ]
 * with log(1 - tanh(z)^2) = 2 (log 2 - z - softplus(-2 z)), stable for any z. */

/* t (n) = tanh(u (n)) in float, the tanh of the deterministic head, of BCQ's perturbation and
 * of the VAE decoder in training: a rational approximation in vector code within 4e-7 of tanh
 * (2.7e-7 relative), +-1 at +-inf, NaN for NaN; t may be u. An element's value does not depend
 * on its position or on n. */
void orl_tanh_fill(float *t, const float *u, int64_t n);

/* eps (n) ~ N(0, 1) from rng (orl_rng_normal_fill: float Box-Muller in vector code): the noise
 * of a reparameterised sample */
void orl_normal_fill(float *eps, int64_t n, orl_rng *rng);

/* reparameterised sample: act (B, A) and logp (B, may be NULL) from out (B, 2A) and the noise
 * eps (B, A); eps NULL means zero noise (the deterministic action c + s tanh(mean)) */
void orl_tanh_gaussian_sample_forward(const orl_gaussian_head *h, float *act, float *logp,
                                      const float *out, const float *eps, int32_t batch);

/* backward of a loss L(act, logp) through the sample above with eps held fixed:
 * dout (B, 2A) += dL/dout, given dact (B, A) = dL/dact and dlogp (B) = dL/dlogp (either may be
 * NULL for zero) */
void orl_tanh_gaussian_sample_backward(const orl_gaussian_head *h, float *dout, const float *dact,
                                       const float *dlogp, const float *out, const float *eps,
                                       int32_t batch);

/* the squashed tanh(u) of a given action is clipped to +-ORL_TANH_CLIP before atanh, so actions
 * on (or beyond) the bounds of a dataset get a finite density */
#define ORL_TANH_CLIP 0.999999

/* log-density logp (B) of given actions act (B, A) (BC, behaviour policies for OPE):
 * y = clip((act - c) / s, +-ORL_TANH_CLIP), z = atanh(y), then the density above */
void orl_tanh_gaussian_log_prob_forward(const orl_gaussian_head *h, float *logp, const float *out,
                                        const float *act, int32_t batch);

/* dout (B, 2A) += dlogp (B) * d logp / d out for given actions */
void orl_tanh_gaussian_log_prob_backward(const orl_gaussian_head *h, float *dout,
                                         const float *dlogp, const float *out, const float *act,
                                         int32_t batch);

/* the log-density above in float, for training: logp (B) of given actions act (B, A), and with
 * grad non-NULL grad (B, 2A) = d logp / d out (the layout of out), so the backward needs no
 * second pass over the libm calls. Per element in float vector code (ln and exp by polynomials
 * within 1-2 ulp), the sum over A in double; with 1 -+ y = (hi - a) / s, (a - lo) / s clipped
 * as above, atanh(y) = (ln(1 + y) - ln(1 - y)) / 2, the log-Jacobian ln(1 + y) + ln(1 - y), and
 * the log-std's tanh(raw) + 1 and 1 - tanh(raw)^2 from e^-2|raw|.
 * Against orl_tanh_gaussian_log_prob_forward and _backward (tests/test_heads.c, log-std ranges
 * [-5, 2] and [-20, 2], actions anywhere in the box and on its bounds): logp within
 * 2e-5 (1 + |logp|) (worst seen 1.4e-6 and 4.5e-6), each gradient element within
 * 2e-5 (1 + |g| + 1e-2 / std^2) (the float z's rounding over std^2). An element's value does
 * not depend on its row or on B. A > 64 falls back to the double formula. */
void orl_tanh_gaussian_log_prob_forward_fast(const orl_gaussian_head *h, float *logp, float *grad,
                                             const float *out, const float *act, int32_t batch);

/* dout (B, 2A) += dlogp (B) * grad (B, 2A): the backward of the float log-density, with grad
 * from orl_tanh_gaussian_log_prob_forward_fast */
void orl_tanh_gaussian_log_prob_backward_fast(float *dout, const float *dlogp, const float *grad,
                                              int32_t batch, int32_t act_dim);

/* ---- categorical (softmax) head: logits (B, n) ---- */

/* logp (B, n) = logits - logsumexp(logits) per row (max subtracted first) */
void orl_categorical_log_softmax(float *logp, const float *logits, int32_t batch, int32_t n);

/* logp (B) = log softmax(logits)[act[b]], act (B) in [0, n) */
void orl_categorical_log_prob_forward(float *logp, const float *logits, const int32_t *act,
                                      int32_t batch, int32_t n);

/* dlogits (B, n) += dlogp (B) * (onehot(act) - softmax(logits)) */
void orl_categorical_log_prob_backward(float *dlogits, const float *dlogp, const float *logits,
                                       const int32_t *act, int32_t batch, int32_t n);

/* entropy (B) = -sum_k p_k log p_k */
void orl_categorical_entropy_forward(float *entropy, const float *logits, int32_t batch, int32_t n);

/* dlogits (B, n) += dentropy (B) * (-p_k (log p_k + entropy)) */
void orl_categorical_entropy_backward(float *dlogits, const float *dentropy, const float *logits,
                                      int32_t batch, int32_t n);

/* act (B) drawn from softmax(logits) by inverse CDF, one orl_rng_uniform per row */
void orl_categorical_sample(int32_t *act, const float *logits, int32_t batch, int32_t n,
                            orl_rng *rng);

/* act (B) = argmax of each row (the first one on ties) */
void orl_categorical_argmax(int32_t *act, const float *logits, int32_t batch, int32_t n);

/* ---- losses ----
 * Each returns the mean loss over its n elements (double) and, if dpred is not NULL, adds
 * scale * d(mean loss)/d pred into dpred (n). */

/* mean of (pred - target)^2 */
double orl_loss_mse(float *dpred, const float *pred, const float *target, int64_t n, float scale);

/* TD3+BC's actor loss (Fujimoto & Gu 2021) over the actor's actions pi (B, A), the logged
 * actions act (B, A) and q (B) = Q_1(s, pi):
 *   loss = -lambda mean_b q_b + mean_bj ((pi_bj - act_bj) / h_j)^2,  lambda = alpha / mean_b |q_b|
 * with h (A) the half-ranges of the action box (NULL: 1, raw action units), so the squared
 * error is in normalised units (a - centre) / h: on a [-1, 1] box (h = 1, D4RL's, where alpha
 * 2.5 was tuned) the bits of the raw form. lambda is held constant (detached; 0 when alpha is
 * 0). Returns the loss, and *lambda and *bc (the squared-error term) when not NULL. dq (B) +=
 * dloss/dq = -lambda / B and dpi (B, A) += the squared-error term's gradient, each when not
 * NULL (the Q term reaches pi through the critic: orl_critic_action_grad, models.h). */
double orl_loss_td3bc_actor(float *dpi, float *dq, const float *pi, const float *act,
                            const float *q, const float *half, int32_t batch, int32_t act_dim,
                            double alpha, double *lambda, double *bc);

/* mean Huber loss of u = pred - target: u^2 / 2 if |u| <= delta, else delta (|u| - delta / 2)
 * (PyTorch's huber_loss; delta > 0) */
double orl_loss_huber(float *dpred, const float *pred, const float *target, int64_t n, float delta,
                      float scale);

/* IQL's expectile loss: mean of |tau - 1(u < 0)| u^2 with u = target - pred, tau in (0, 1) */
double orl_loss_expectile(float *dpred, const float *pred, const float *target, int64_t n,
                          float tau, float scale);

/* AWR's weighted negative log-likelihood: -sum_b w[b] logp[b] / B; dlogp (B) += scale * d/dlogp;
 * weight NULL means all ones */
double orl_loss_weighted_nll(float *dlogp, const float *logp, const float *weight, int64_t batch,
                             float scale);

/* ---- CQL's conservative penalties (Kumar et al. 2020) ----
 * Each returns the penalty's mean over the B states (double) and adds scale * its gradient into
 * the given gradient buffers (NULL: not wanted). */

/* discrete (d3rlpy DiscreteCQL): mean over b of logsumexp_a q[b, a] - q[b, act[b]] for q (B, n)
 * and data actions act (B) in [0, n); dq (B, n) += scale / B * (softmax(q[b]) - onehot(act[b])) */
double orl_cql_discrete_penalty(float *dq, const float *q, const int32_t *act, int32_t batch,
                                int32_t n, float scale);

/* continuous, importance-sampled (CORL cql.py, cql_importance_sample): with M sampled actions
 * per state, their values q_ood (B, M) and the log-densities they were drawn with log_density
 * (B, M) (uniform: -sum_j log(hi_j - lo_j); the policy's: its logp, detached),
 *   ood[b] = T logsumexp_j ((q_ood[b, j] - log_density[b, j]) / T),  penalty = mean_b (ood[b] -
 *   q_data[b]),
 * q_data (B) the values of the data actions, T > 0 the temperature (CORL: 1).
 * dq_ood (B, M) += scale / B * softmax_j((q_ood[b, .] - log_density[b, .]) / T);
 * dq_data (B) += -scale / B. */
double orl_cql_sampled_penalty(float *dq_ood, float *dq_data, const float *q_ood,
                               const float *log_density, const float *q_data, int32_t batch,
                               int32_t m, float temperature, float scale);

/* ---- VAE (BCQ's generative model of the behaviour policy) ----
 * encoder MLP on [s, a] (S + A) -> [mu | log_sigma] (2Z), log_sigma clamped hard to [-4, 15]
 * (gradient zero outside, as torch.clamp); z = mu + exp(log_sigma) eps, eps ~ N(0, 1);
 * decoder MLP on [s, z] (S + Z) -> u (A), reconstruction = c + s tanh(u).
 * loss = recon + 0.5 KL with BCQ's means: recon = mean over B*A of (reconstruction - a)^2,
 * KL = mean over B*Z of -0.5 (1 + 2 log_sigma - mu^2 - sigma^2). */

#define ORL_VAE_LOG_SIGMA_MIN (-4.0f)
#define ORL_VAE_LOG_SIGMA_MAX 15.0f
#define ORL_VAE_KL_WEIGHT     0.5
#define ORL_VAE_LATENT_CLIP   0.5f /* decode draws z ~ N(0, 1) clipped to +-0.5 */

typedef struct orl_vae_config {
    int32_t obs_dim;           /* S */
    int32_t act_dim;           /* A */
    int32_t latent_dim;        /* Z; BCQ uses 2 A */
    int32_t hidden;            /* H; BCQ uses 750 */
    int32_t n_hidden;          /* hidden layers per network, 1..ORL_MLP_MAX_LAYERS-1; BCQ: 2 */
    orl_activation activation; /* BCQ: ReLU */
} orl_vae_config;

typedef struct orl_vae {
    orl_vae_config cfg;
    orl_mlp enc;      /* (S + A) -> (2 Z), a view into params */
    orl_mlp dec;      /* (S + Z) -> (A), a view into params */
    int64_t n_params; /* P = P_enc + P_dec */
    float *params;    /* (P) encoder parameters, then decoder parameters */
    float *lo;        /* (A) action bounds */
    float *hi;        /* (A) */
    void *mem;        /* the one allocation */
} orl_vae;

typedef struct orl_vae_work {
    int32_t max_batch;
    int32_t batch;     /* B of the last forward */
    orl_mlp_work enc;  /* encoder activations */
    orl_mlp_work dec;  /* decoder activations */
    float *enc_in;     /* (B, S + A) */
    float *enc_out;    /* (B, 2 Z) [mu | log_sigma before the clamp] */
    float *eps;        /* (B, Z) noise of the last forward */
    float *dec_in;     /* (B, S + Z) [s | z] */
    float *recon;      /* (B, A) reconstructed actions */
    float *act;        /* (B, A) copy of the target actions */
    float *d_enc_out;  /* (B, 2 Z) backward scratch */
    float *d_dec_out;  /* (B, A) */
    float *d_dec_in;   /* (B, S + Z) */
    float *d_enc_in;   /* (B, S + A) */
    double recon_loss; /* parts of the last loss */
    double kl_loss;
    void *mem;
} orl_vae_work;

/* allocates the VAE (parameters initialised from rng with cfg.activation and the fan-in
 * uniform init) with action bounds lo, hi (A, copied; NULL for [-1, 1]). ORL_ERR_INPUT on a bad
 * config, ORL_ERR_NOMEM. */
orl_status orl_vae_create(orl_vae *vae, const orl_vae_config *cfg, const float *lo, const float *hi,
                          orl_rng *rng);

/* vae may be NULL */
void orl_vae_free(orl_vae *vae);

orl_status orl_vae_work_init(orl_vae_work *w, const orl_vae *vae, int32_t max_batch);
void orl_vae_work_free(orl_vae_work *w);

/* forward of the training loss on obs (B, S), act (B, A): the noise is eps (B, Z) if not NULL,
 * else drawn from rng. *loss = recon + 0.5 KL. ORL_ERR_NUMERIC if the loss is not finite. */
orl_status orl_vae_forward(const orl_vae *vae, orl_vae_work *w, const float *obs, const float *act,
                           int32_t batch, const float *eps, orl_rng *rng, double *loss);

/* backward of the last forward's loss through decoder, reparameterisation and encoder:
 * dparams (P) += scale * d loss / d params, laid out as vae->params; dobs (B, S) and dact (B, A)
 * += scale * d loss / d inputs (the noise held fixed). Any of the three may be NULL. */
void orl_vae_backward(const orl_vae *vae, orl_vae_work *w, float *dparams, float scale, float *dobs,
                      float *dact);

/* act (B, A) = decoder(obs (B, S), z) with z ~ N(0, 1) clipped to +-0.5 from rng; z NULL
 * draws, else z (B, Z) is used as given (clipped too). Overwrites the decoder's workspace. */
void orl_vae_decode(const orl_vae *vae, orl_vae_work *w, const float *obs, const float *z,
                    int32_t batch, orl_rng *rng, float *act);

/* orl_vae_decode with z (B, Z) given, for B = G * repeat rows whose observation repeats over
 * each group of repeat rows: obs (G, S), S >= 1; the decoder's first layer takes the observation
 * part once per group (orl_mlp_forward_shared: within rounding of orl_vae_decode on the repeated
 * rows). Overwrites the decoder's workspace. */
void orl_vae_decode_shared(const orl_vae *vae, orl_vae_work *w, const float *obs, int32_t repeat,
                           const float *z, int32_t batch, float *act);

/* ---- ensembles: K MLPs with one configuration, parameters contiguous (K, P) ---- */

typedef struct orl_ensemble {
    orl_mlp_config cfg;
    int32_t n_members; /* K */
    int64_t n_member;  /* P, parameters of one member */
    float *params;     /* (K, P) member k at params + k P */
    orl_mlp *members;  /* (K) views into params */
    void *mem;
} orl_ensemble;

typedef struct orl_ensemble_work {
    int32_t n_members; /* K */
    int32_t max_batch;
    int32_t batch;         /* B of the last forward */
    int per_member;        /* the last forward's input was (K, B, I) */
    orl_mlp_work *members; /* (K) */
    float *out;            /* (K, B, O) outputs of the last forward */
    void *mem;
} orl_ensemble_work;

/* allocates K members of cfg, each initialised from rng in member order */
orl_status orl_ensemble_create(orl_ensemble *ens, const orl_mlp_config *cfg, int32_t n_members,
                               orl_rng *rng);
void orl_ensemble_free(orl_ensemble *ens);

orl_status orl_ensemble_work_init(orl_ensemble_work *w, const orl_ensemble *ens, int32_t max_batch);
void orl_ensemble_work_free(orl_ensemble_work *w);

/* all members on x: (B, I) shared when per_member is 0, else (K, B, I) one slice per member.
 * Outputs go to w->out (K, B, O) and to out (K, B, O) if not NULL. x must stay valid until
 * backward. */
void orl_ensemble_forward(const orl_ensemble *ens, orl_ensemble_work *w, const float *x,
                          int per_member, int32_t batch, float *out);

/* backward of all members through the last forward: dout (K, B, O); dparams (K, P) += ..., may
 * be NULL; dx += ..., may be NULL, (B, I) summed over members for a shared input, else
 * (K, B, I) */
void orl_ensemble_backward(const orl_ensemble *ens, orl_ensemble_work *w, const float *dout,
                           float *dparams, float *dx);

/* mean (B, O) over members of out (K, B, O), in double */
void orl_ensemble_mean(float *mean, const float *out, int32_t n_members, int32_t batch,
                       int32_t out_dim);

/* disagreement (B): max over output dimensions of the population standard deviation (divide
 * by K) across members, as model-based offline RL uses for uncertainty penalties (MOPO-style) */
void orl_ensemble_disagreement_std(float *disagreement, const float *out, int32_t n_members,
                                   int32_t batch, int32_t out_dim);

/* disagreement (B): MOReL's discrepancy, the max over member pairs of the L2 distance between
 * their outputs; 0 for K = 1 */
void orl_ensemble_disagreement_pairwise(float *disagreement, const float *out, int32_t n_members,
                                        int32_t batch, int32_t out_dim);

#endif

/* orl_policy: what every learner produces and what `orl eval` and `orl ope` consume.
 *
 * A policy maps observations (B, S) to actions: (B, A) floats for continuous action spaces or
 * (B) int32 indices in [0, n_actions) for discrete ones, either deterministically (the mean or
 * the argmax) or by sampling from a caller's orl_rng, and gives the log-probability of given
 * actions (a mass for discrete actions, a density for continuous ones).
 *
 * It is an interface: an ops table plus the fields every policy has (algorithm, shapes, action
 * bounds, the hyperparameters as JSON). The implementation here is the MLP policy (observation
 * normaliser + orl_mlp + an output head); behaviour and tabular policies are further
 * implementations of the same ops.
 *
 * Threads: a policy is constant while it acts; everything a call writes lives in an
 * orl_policy_work created for a maximum batch, one per thread, so threads share one policy.
 *
 * Policy files are HDF5 (orl_policy_save / orl_policy_load); see policy/policy_file.c for the
 * keys. A loaded policy needs neither the training data nor the code of the learner.
 *
 * Dimension letters as in nn.h: B batch, S observation size, A action size, P parameters. */
#ifndef ORL_POLICY_H
#define ORL_POLICY_H

#include "orl/dataset.h"
#include "orl/nn.h"
#include "orl/rng.h"
#include "orl/status.h"

#include <stddef.h>
#include <stdint.h>

#define ORL_POLICY_FORMAT_VERSION 1 /* written as orl_policy_version */

typedef struct orl_policy orl_policy;
typedef struct orl_policy_work orl_policy_work;
typedef struct orl_policy_file orl_policy_file;

typedef enum orl_policy_mode {
    ORL_POLICY_MODE_MEAN = 0, /* the mean (continuous) or the argmax (discrete); rng unused */
    ORL_POLICY_MODE_SAMPLE,   /* a draw from the policy's distribution with the caller's rng */
} orl_policy_mode;

/* the fields every policy has; also the common part of a constructor's arguments */
typedef struct orl_policy_info {
    const char *algorithm;   /* "bc", "iql", ... (at most 63 bytes) */
    const char *config_json; /* the hyperparameters as a JSON object; NULL means "{}" */
    int32_t obs_dim;         /* S */
    int32_t act_dim;         /* A; 1 for discrete actions */
    orl_action_kind action_kind;
    int32_t n_actions;     /* discrete: number of actions (>= 2); continuous: 0 */
    const float *act_low;  /* (A) continuous only; NaN = unbounded (not for tanh heads) */
    const float *act_high; /* (A) */
} orl_policy_info;

/* an implementation: every function receives the policy it belongs to. act and logp are only
 * called through orl_policy_act / orl_policy_logp, which have already checked the batch against
 * the work, the observations (and given actions) for finiteness, the output pointers and the
 * discrete indices. A constructor fills every field of struct orl_policy (source may stay "";
 * orl_policy_load_with sets it); free releases everything, config_json included. */
typedef struct orl_policy_ops {
    const char *type; /* stored as policy_type: "mlp", ... */

    /* per-call scratch for batches up to max_batch */
    orl_status (*work_create)(const orl_policy *p, int32_t max_batch, void **scratch);
    void (*work_free)(void *scratch);

    /* act (B, A) for continuous policies or act_idx (B) for discrete ones; the other is NULL */
    orl_status (*act)(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                      orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx);

    /* logp (B) of act (B, A) or act_idx (B); NULL when the policy is deterministic */
    orl_status (*logp)(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                       const float *act, const int32_t *act_idx, double *logp);

    /* writes the implementation's keys (the common ones are written by orl_policy_save) */
    orl_status (*save)(const orl_policy *p, orl_policy_file *f);

    /* builds a policy from an open file whose common keys were read into info */
    orl_status (*load)(orl_policy_file *f, const orl_policy_info *info, orl_policy **out);

    void (*free)(orl_policy *p);
} orl_policy_ops;

/* a policy; the fields are read-only for callers */
struct orl_policy {
    const orl_policy_ops *ops;
    void *impl; /* the implementation's state */
    char algorithm[64];
    char source[512];  /* the file it was loaded from ("" when built in memory) */
    char *config_json; /* (never NULL) the hyperparameters as JSON */
    int32_t obs_dim;   /* S */
    int32_t act_dim;   /* A; 1 for discrete actions */
    orl_action_kind action_kind;
    int32_t n_actions; /* discrete: number of actions; continuous: 0 */
    float *act_low;    /* (A) continuous: lower bounds, NaN = unbounded; NULL if discrete */
    float *act_high;   /* (A) */
    int deterministic; /* 1 when the policy has no log-probability */
};

/* ---- using a policy ---- */

/* scratch for calls with batch <= max_batch (>= 1); one per thread. Free with
 * orl_policy_work_free. ORL_ERR_NOMEM. */
orl_status orl_policy_work_create(const orl_policy *p, int32_t max_batch, orl_policy_work **out);

/* w may be NULL */
void orl_policy_work_free(orl_policy_work *w);

/* actions for obs (B, S), 1 <= B <= the work's max_batch: act (B, A) for continuous policies
 * (within act_low/act_high where finite), act_idx (B) for discrete ones; pass NULL for the
 * other. rng is used (and advanced) only in ORL_POLICY_MODE_SAMPLE, where it must not be NULL;
 * a deterministic policy gives its one action in both modes and leaves rng alone. The draws
 * depend only on rng and obs, so the same seed gives the same actions on any thread.
 * ORL_ERR_INPUT for a batch beyond the work or a wrong output pointer, ORL_ERR_NUMERIC for
 * non-finite observations. */
orl_status orl_policy_act(const orl_policy *p, orl_policy_work *w, const float *obs, int32_t batch,
                          orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx);

/* log-probabilities logp (B) of the given actions: act (B, A) (density) for continuous
 * policies, act_idx (B) (mass) for discrete ones. The MLP heads reduce in double and round to
 * float32 (heads.h), so logp carries float32 precision. A tanh-squashed policy clips the
 * squashed action to +-ORL_TANH_CLIP first (heads.h), so actions on or beyond its bounds get a
 * finite density. A Gaussian policy's density is of the unclipped Gaussian. ORL_ERR_UNSUPPORTED
 * for a deterministic policy; ORL_ERR_INPUT for an index outside [0, n_actions);
 * ORL_ERR_NUMERIC for non-finite observations or actions. */
orl_status orl_policy_logp(const orl_policy *p, orl_policy_work *w, const float *obs, int32_t batch,
                           const float *act, const int32_t *act_idx, double *logp);

/* ORL_ERR_INPUT naming the first mismatch (obs_dim, act_dim, action_kind, n_actions) between
 * the policy and what the caller has, e.g. a dataset header; the message names the policy's
 * file when it was loaded from one. n_actions <= 0 skips that check. */
orl_status orl_policy_check_dims(const orl_policy *p, int32_t obs_dim, int32_t act_dim,
                                 orl_action_kind kind, int32_t n_actions);

/* frees the policy; p may be NULL */
void orl_policy_free(orl_policy *p);

/* ---- the MLP policy ---- */

/* the heads of heads.h over the network output y (B, O); mid = (high + low) / 2 and
 * half = (high - low) / 2 per action dimension. The Gaussian heads' y is [mean (A) | raw (A)],
 * and log_std = min + (max - min) (tanh(raw) + 1) / 2 (heads.h's smooth clamp into
 * [log_std_min, log_std_max], state-dependent). */
typedef enum orl_policy_head {
    ORL_POLICY_HEAD_DETERMINISTIC = 0, /* a = mid + half tanh(y), y (A); no log-probability */
    ORL_POLICY_HEAD_GAUSSIAN,          /* a ~ N(mean, std), clipped to the bounds where they are
                                          finite (bounds may be NaN: unbounded) */
    ORL_POLICY_HEAD_TANH_GAUSSIAN,     /* u ~ N(mean, std), a = mid + half tanh(u) */
    ORL_POLICY_HEAD_CATEGORICAL,       /* y = logits (n_actions); softmax */
    ORL_POLICY_HEAD_COUNT
} orl_policy_head;

/* "deterministic", "gaussian", "tanh_gaussian", "categorical" (NULL when out of range) */
const char *orl_policy_head_name(orl_policy_head head);

/* the network output width O a head needs: A, 2A, 2A or n_actions */
int32_t orl_policy_head_outputs(orl_policy_head head, int32_t act_dim, int32_t n_actions);

typedef struct orl_policy_mlp_spec {
    orl_policy_info info;
    orl_policy_head head;
    orl_mlp_config mlp; /* widths[0] = S, widths[L] = orl_policy_head_outputs(...) */
    float log_std_min;  /* Gaussian heads: log_std is clamped to [min, max] (-20, 2 typical) */
    float log_std_max;
} orl_policy_mlp_spec;

/* builds an MLP policy. obs_norm (dim S) may be NULL (identity statistics); params (P floats,
 * laid out as orl_mlp) are copied, or initialised from rng when NULL (then rng must not be
 * NULL). Everything is validated: ORL_ERR_INPUT naming the field. Free with orl_policy_free. */
orl_status orl_policy_mlp_create(const orl_policy_mlp_spec *spec, const orl_normalizer *obs_norm,
                                 const float *params, orl_rng *rng, orl_policy **out);

/* views of an MLP policy's network, normaliser and spec (NULL when p is not an MLP policy),
 * owned by the policy (never orl_mlp_free / orl_normalizer_free them); the parameters and
 * statistics may be overwritten (e.g. by a learner) while no thread is acting */
orl_mlp *orl_policy_mlp_network(orl_policy *p);
orl_normalizer *orl_policy_mlp_normalizer(orl_policy *p);
const orl_policy_mlp_spec *orl_policy_mlp_get_spec(const orl_policy *p);

/* the MLP implementation, for loaders */
extern const orl_policy_ops orl_policy_mlp_ops;

/* ---- the argmax-Q policy (policy_type "argmax_q") ----
 * A discrete policy over a Q-network: observation normaliser + orl_mlp with one output per
 * action (Q(s, .), widths[L] = n_actions). It acts greedily (the argmax, ties to the lowest
 * index) in ORL_POLICY_MODE_MEAN, and in ORL_POLICY_MODE_SAMPLE draws from its declared mode,
 * whose log-probabilities are exact (computed in double from the float32 Q-values):
 *   greedy:   pi(a|s) = 1 for the argmax, 0 otherwise (logp 0 / -inf); sampling is the argmax
 *             and leaves rng alone
 *   epsilon:  1 - eps + eps / n for the argmax, eps / n for the others (one uniform draw a row:
 *             u < eps picks action floor(u / eps * n), else the argmax)
 *   softmax:  softmax(Q / T) with temperature T > 0 (one uniform draw a row, inverse CDF)
 * File keys beside the common ones: those of the MLP policy (head "categorical", mlp_*, obs_*,
 * params: the Q-network, read and checked by the MLP loader) and argmax_q_mode (text "greedy" |
 * "epsilon" | "softmax"), argmax_q_epsilon (float32 (1), in [0, 1]), argmax_q_temperature
 * (float32 (1), > 0). Made by value-based discrete learners (CQL); registered in the one table
 * of eval/policy_load.c. */

typedef enum orl_argmax_q_mode {
    ORL_ARGMAX_Q_MODE_GREEDY = 0,
    ORL_ARGMAX_Q_MODE_EPSILON,
    ORL_ARGMAX_Q_MODE_SOFTMAX,
    ORL_ARGMAX_Q_MODE_COUNT
} orl_argmax_q_mode;

typedef struct orl_policy_argmax_q_spec {
    orl_policy_info info;   /* discrete: act_dim 1, n_actions >= 2 */
    orl_mlp_config mlp;     /* widths[0] = S, widths[L] = n_actions */
    orl_argmax_q_mode mode; /* how it samples and scores actions */
    float epsilon;          /* epsilon mode: in [0, 1] */
    float temperature;      /* softmax mode: > 0 */
} orl_policy_argmax_q_spec;

/* "greedy", "epsilon", "softmax" (NULL when out of range) */
const char *orl_argmax_q_mode_name(orl_argmax_q_mode mode);

/* builds an argmax-Q policy. obs_norm (dim S) may be NULL (identity); params (P floats, laid
 * out as orl_mlp) are copied, or initialised from rng when NULL. ORL_ERR_INPUT naming the
 * field (a continuous info, a width that does not match, epsilon outside [0, 1], temperature
 * <= 0), ORL_ERR_NOMEM. Free with orl_policy_free. */
orl_status orl_policy_argmax_q_create(const orl_policy_argmax_q_spec *spec,
                                      const orl_normalizer *obs_norm, const float *params,
                                      orl_rng *rng, orl_policy **out);

/* views of an argmax-Q policy's Q-network and normaliser (NULL for other policies), owned by
 * the policy; they may be overwritten while no thread is acting */
orl_mlp *orl_policy_argmax_q_network(orl_policy *p);
orl_normalizer *orl_policy_argmax_q_normalizer(orl_policy *p);

/* the mode, epsilon and temperature of an argmax-Q policy (0 when p is not one) */
int orl_policy_argmax_q_get(const orl_policy *p, orl_argmax_q_mode *mode, float *epsilon,
                            float *temperature);

/* the implementation, for orl_policy_load_with */
const orl_policy_ops *orl_policy_argmax_q_ops(void);

/* ---- the BCQ policies (policy_types "bcq" and "bcq_discrete") ----
 * Batch-constrained Q-learning's acting rules (Fujimoto, Meger & Precup 2019; Fujimoto et al.
 * 2019, discrete), made by algorithms/bcq.c and registered in the one table of
 * eval/policy_load.c. Both see observations through a normaliser (obs_mean, obs_std).
 *
 * "bcq" (continuous): with x the normalised observation, h and c the half-range and mid-point
 * of the (finite) action bounds, and n candidate latents z_i (Z each, in [-0.5, 0.5]):
 *   a_i  = c + h tanh(decoder([x, z_i]))                 the VAE's decoder (S + Z -> A)
 *   a_i' = clip(a_i + phi h tanh(perturb([x, a_i])), lo, hi)     the perturbation (S + A -> A)
 *   act  = a_k', k = argmax_i Q_1([x, a_i'])              the first critic (S + A -> 1)
 * ORL_POLICY_MODE_MEAN uses the n latents stored in the policy (fixed draws of N(0, 1) clipped
 * to +-0.5: the policy is a deterministic function of the observation); SAMPLE draws n fresh
 * latents per row from the caller's rng (n Z normal draws a row). It has no tractable density:
 * deterministic = 1, orl_policy_logp is ORL_ERR_UNSUPPORTED (OPE treats it as the other
 * deterministic continuous policies: kernel-smoothed ratios, FQE on its MEAN action).
 * File keys beside the common ones: obs_mean, obs_std (S); bcq_activation (text "relu");
 * bcq_decoder_widths, bcq_perturb_widths, bcq_critic_widths (int32 (L + 1)) and
 * bcq_decoder_params, bcq_perturb_params, bcq_critic_params (float32 (P)); bcq_phi (float32
 * (1), >= 0); bcq_latents (float32 (n, Z), in [-0.5, 0.5]); bcq_latent_dim (int32 (1)).
 *
 * "bcq_discrete": a Q-network and an imitation network (both S -> n) on normalised
 * observations; the allowed actions of a state are those with
 * pi_b(a|s) / max_a' pi_b(a'|s) > threshold (pi_b the imitation network's softmax), and the
 * policy takes the allowed action of highest Q (orl_bcq_discrete_choose). Exact
 * log-probabilities: 1 - eps + eps / n for that action, eps / n for every other (eps = 0: 0 and
 * -inf); SAMPLE takes a uniform action with probability eps (one uniform draw a row), MEAN the
 * choice. File keys: obs_mean, obs_std; bcq_activation; bcq_q_widths, bcq_q_params,
 * bcq_imitation_widths, bcq_imitation_params; bcq_threshold (float32 (1), in [0, 1));
 * bcq_epsilon (float32 (1), in [0, 1]). */

typedef struct orl_policy_bcq_spec {
    orl_policy_info info;   /* continuous, finite act_low < act_high */
    orl_mlp_config decoder; /* (S + Z) -> A, ReLU, no LayerNorm */
    orl_mlp_config perturb; /* (S + A) -> A */
    orl_mlp_config critic;  /* (S + A) -> 1 */
    int32_t latent_dim;     /* Z >= 1 */
    int32_t n_candidates;   /* n >= 1 */
    float phi;              /* >= 0: the perturbation's scale, times the half-range */
} orl_policy_bcq_spec;

/* builds a BCQ policy: the three networks' parameters (laid out as orl_mlp) and the latents
 * (n, Z) are copied; obs_norm (dim S) may be NULL (identity). ORL_ERR_INPUT naming the field
 * (widths that do not fit S, A and Z, bounds, phi, a latent outside [-0.5, 0.5], non-finite
 * parameters), ORL_ERR_NOMEM. */
orl_status orl_policy_bcq_create(const orl_policy_bcq_spec *spec, const orl_normalizer *obs_norm,
                                 const float *decoder_params, const float *perturb_params,
                                 const float *critic_params, const float *latents,
                                 orl_policy **out);

/* views of a BCQ policy's parts (all NULL and 0 returned when p is not one), owned by the
 * policy; parameters, statistics and latents may be overwritten while no thread is acting */
typedef struct orl_policy_bcq_view {
    const orl_policy_bcq_spec *spec;
    orl_mlp *decoder, *perturb, *critic;
    orl_normalizer *norm;
    float *latents; /* (n, Z) */
} orl_policy_bcq_view;
int orl_policy_bcq_views(orl_policy *p, orl_policy_bcq_view *v);

typedef struct orl_policy_bcq_discrete_spec {
    orl_policy_info info;     /* discrete: act_dim 1, n_actions >= 2 */
    orl_mlp_config q;         /* S -> n, ReLU, no LayerNorm */
    orl_mlp_config imitation; /* S -> n logits */
    float threshold;          /* tau in [0, 1) */
    float epsilon;            /* in [0, 1] */
} orl_policy_bcq_discrete_spec;

/* builds a discrete BCQ policy (parameters copied; obs_norm may be NULL). ORL_ERR_INPUT naming
 * the field, ORL_ERR_NOMEM. */
orl_status orl_policy_bcq_discrete_create(const orl_policy_bcq_discrete_spec *spec,
                                          const orl_normalizer *obs_norm, const float *q_params,
                                          const float *imitation_params, orl_policy **out);

/* views of a discrete BCQ policy's networks and normaliser (0 when p is not one) */
int orl_policy_bcq_discrete_views(orl_policy *p, orl_mlp **q, orl_mlp **imitation,
                                  orl_normalizer **norm);

/* discrete BCQ's choice for one state: the index of the highest q (n) among the actions a with
 * exp(logits[a] - max logits) > threshold (the imitation softmax over its maximum; computed in
 * double), ties to the lowest index. The most likely action is always allowed. If allowed is
 * not NULL, allowed (n) = 1 for the allowed actions, else 0. */
int32_t orl_bcq_discrete_choose(const float *q, const float *logits, int32_t n, double threshold,
                                uint8_t *allowed);

/* the implementations, for orl_policy_load_with */
const orl_policy_ops *orl_policy_bcq_ops(void);
const orl_policy_ops *orl_policy_bcq_discrete_ops(void);

/* ---- export for a control loop ---- */

/* writes path: one dependency-free C99 source file (weights as exact static const arrays, the
 * observation normaliser, <math.h> only, no allocation, reentrant) defining
 *   void NAME_act(const float *obs, float *act)   obs (S) -> act (A)
 * the action orl_policy_act gives in ORL_POLICY_MODE_MEAN (the mean or argmax; equal to
 * float32 rounding: the dot products are summed in 8 interleaved partial sums), and for discrete
 * policies also
 *   int NAME_act_index(const float *obs)           (act[0] holds the index as a float),
 * with NAME_OBS_DIM and NAME_ACT_DIM. MLP policies (every head) and argmax-Q policies (their
 * greedy action). Written under a temporary name, renamed when complete. ORL_ERR_INPUT when
 * name is not a C identifier (at most 64 characters) or a deterministic head has unbounded
 * actions; ORL_ERR_UNSUPPORTED for other policy types; ORL_ERR_IO. */
orl_status orl_policy_export_c(orl_policy *p, const char *name, const char *path);

/* writes path: the policy as an ONNX model (opset 17, IR 8) with input "obs" (batch, S) float32
 * and output "action": (batch, A) float32, the action orl_policy_act gives in
 * ORL_POLICY_MODE_MEAN (to float32 rounding), or (batch) int64, the greedy index, for discrete
 * policies. Weights are exact float32 initializers; metadata names the algorithm, type, head and
 * source. The same policies as orl_policy_export_c, with the same errors. Written under a
 * temporary name, renamed when complete. */
orl_status orl_policy_export_onnx(orl_policy *p, const char *path);

/* ---- policy files ---- */

/* Saving and loading call HDF5, which (as built by Debian) is not thread-safe: call them from
 * one thread at a time, not alongside other HDF5 work (dataset readers and writers). */

/* writes p to path: a temporary name beside it, renamed into place when complete.
 * ORL_ERR_IO; nothing is left under path or the temporary name on failure. */
orl_status orl_policy_save(const orl_policy *p, const char *path);

/* reads a policy file of any built-in type. Every key is checked (version, shapes, lengths,
 * parameter count against the widths, finite values): ORL_ERR_FORMAT naming the file and the
 * key, ORL_ERR_IO when the file cannot be opened, ORL_ERR_UNSUPPORTED for an unknown
 * policy_type or a newer version. Free *out with orl_policy_free. */
orl_status orl_policy_load(const char *path, orl_policy **out);

/* as orl_policy_load, also trying the given implementations (n of them, may be 0) by type.
 * To load any policy the project knows by file or builtin name, use eval.h's orl_policy_open. */
orl_status orl_policy_load_with(const char *path, const orl_policy_ops *const *ops, int n,
                                orl_policy **out);

/* as orl_policy_load_with, from the bytes of a policy file held in memory (image, size bytes;
 * copied, the caller keeps it): how the policy files embedded into the library are read.
 * name stands for the file in messages and in the policy's source. */
orl_status orl_policy_load_image_with(const char *name, const void *image, size_t size,
                                      const orl_policy_ops *const *ops, int n, orl_policy **out);

/* key access for an implementation's save and load. Numbers are 1-D datasets; text is a
 * fixed-length UTF-8 attribute of the root. Readers fail with ORL_ERR_FORMAT naming the file
 * and key: absent, another type or length, or (floats) a non-finite value where
 * allow_nonfinite is 0. */
const char *orl_policy_file_path(const orl_policy_file *f);
orl_status orl_policy_file_put_floats(orl_policy_file *f, const char *key, const float *x,
                                      int64_t n);
orl_status orl_policy_file_put_ints(orl_policy_file *f, const char *key, const int32_t *x,
                                    int64_t n);
orl_status orl_policy_file_put_text(orl_policy_file *f, const char *key, const char *text);
/* number of elements of dataset key */
orl_status orl_policy_file_length(orl_policy_file *f, const char *key, int64_t *n);
orl_status orl_policy_file_get_floats(orl_policy_file *f, const char *key, float *x, int64_t n,
                                      int allow_nonfinite);
orl_status orl_policy_file_get_ints(orl_policy_file *f, const char *key, int32_t *x, int64_t n);
/* the text (cap bytes at most, NUL included; longer text fails) */
orl_status orl_policy_file_get_text(orl_policy_file *f, const char *key, char *out, size_t cap);

#endif

/* MOReL (Kidambi, Rajeswaran, Netrapalli & Joachims 2020), as mjrl v2's projects/morel runs
 * it: fit a dynamics ensemble to the data, build the pessimistic MDP that halts where the
 * members disagree (models/pmdp.c), and plan in it with natural policy gradient from a
 * behaviour-cloned start (models/npg.c). Continuous actions.
 *
 * On the training loop (train.h): one training step is one NPG iteration (the loop's batch is
 * not used: the learner samples its own paths in the model); steps default to 150 iterations
 * (our budget; the reference runs 1000 on D4RL). Before step 0 one phase:
 *   "model_fit" (epochs + 1 units): each of the first `model_epochs` units is one epoch of the
 *   ensemble's fit (orl_dynamics_trainer; after early stopping the remaining epochs are
 *   empty), the last unit builds the model (threshold, start states) and clones the behaviour
 *   into the policy's mean (bc_epochs of MSE, mjrl BC);
 *   with model=MODEL.h5 the model is read at create and the phase is "bc_init" (1 unit).
 * Every unit's effect is in the buffers (the trainer's state, the planner's parameters and
 * baseline), so a run resumed between units or between iterations gives the same bits; the
 * model itself is rebuilt from the trainer's restored state when needed.
 *
 * Steps report model_return (the mean return of the iteration's rollouts in the P-MDP),
 * halted (the share that entered HALT), path_length, kl, alpha, baseline_loss, log_std, and
 * CPU seconds of the iteration's rollouts, NPG step and baseline (rollout_s, npg_s,
 * baseline_s) and of the whole model fit (fit_s), and data_halted: the share of the data's
 * episodes with a step whose disagreement exceeds the threshold (near 1, the P-MDP halts the
 * data's own behaviour; a lower pessimism is needed). No validation metrics. The result is the
 * Gaussian MLP policy (policy_type "mlp", head "gaussian", the state-independent log-std in
 * the last layer's biases). Nothing in the real environment chooses the returned policy (the
 * last iteration's is returned). */
#include "orl/dynamics.h"
#include "orl/npg.h"
#include "orl/pmdp.h"
#include "orl/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct morel_state {
    const orl_dataset *ds;
    const char *config_json;
    orl_dynamics_config dcfg;
    orl_dynamics_trainer *trainer; /* NULL with model= */
    orl_dynamics *model;           /* built by the phase (or read at create) */
    orl_pmdp *pmdp;
    orl_pmdp_config pcfg;
    orl_npg *npg;
    orl_policy *policy;        /* the planner's policy, kept in sync (for evaluation and export) */
    float *obs_mean, *obs_std; /* (S) */
    int32_t bc_epochs, bc_batch;
    float bc_lr;
    int64_t counters[2]; /* [0]: 1 once the ensemble's fit has stopped; [1]: 1 once the model
                            and BC are done */
    double fit_seconds;  /* CPU time of the model fit (a buffer: survives resume) */
    double data_halted;  /* share of the data's episodes with a step over the threshold */
} morel_state;

static const orl_hparam_def morel_hparams[] = {
    {"model", ORL_HPARAM_KIND_TEXT, "none", NULL,
     "a fitted model file (orl model fit) to plan in; none: fit one as the first phase"},
    {"members", ORL_HPARAM_KIND_INT, "4", NULL, "ensemble members K (mjrl MOReL: 4)"},
    {"model_hidden", ORL_HPARAM_KIND_INT, "512", NULL, "members' hidden width (mjrl: 512)"},
    {"model_layers", ORL_HPARAM_KIND_INT, "2", NULL, "members' hidden layers (mjrl: 2)"},
    {"model_lr", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL, "members' Adam learning rate (mjrl: 1e-3)"},
    {"model_batch", ORL_HPARAM_KIND_INT, "256", NULL, "members' batch (mjrl: 256)"},
    {"model_epochs", ORL_HPARAM_KIND_INT, "100", NULL,
     "most epochs of the model fit (early stopping on held-out episodes)"},
    {"model_patience", ORL_HPARAM_KIND_INT, "5", NULL,
     "epochs without held-out improvement before the fit stops (0: all epochs)"},
    {"model_holdout", ORL_HPARAM_KIND_FLOAT, "0.1", NULL, "share of episodes held out by the fit"},
    {"pessimism", ORL_HPARAM_KIND_FLOAT, "3.0", NULL,
     "threshold = max disagreement over the data / pessimism (MOReL D4RL: 3.0)"},
    {"threshold", ORL_HPARAM_KIND_FLOAT, "0", NULL,
     "> 0: this disagreement threshold instead of the model's"},
    {"halt_reward", ORL_HPARAM_KIND_FLOAT, "0", NULL,
     "reward added once at HALT: 0 the reference's truncation (truncate_reward), -kappa the "
     "paper's"},
    {"use_done", ORL_HPARAM_KIND_INT, "1", NULL,
     "1: the termination (learned or the task's) ends paths"},
    {"reward", ORL_HPARAM_KIND_CHOICE, "model", "model|env",
     "model: the members' learned reward and termination; env: the data's environment's own "
     "(Pendulum-v1, MountainCarContinuous-v0), as the reference"},
    {"starts_per_member", ORL_HPARAM_KIND_INT, "50", NULL,
     "start states per member per iteration (MOReL: 50)"},
    {"horizon", ORL_HPARAM_KIND_INT, "0", NULL,
     "model rollout horizon; 0: the data's time limit (or longest episode)"},
    {"policy_hidden", ORL_HPARAM_KIND_INT, "64", NULL, "policy hidden width (mjrl MOReL: 64)"},
    {"policy_layers", ORL_HPARAM_KIND_INT, "2", NULL, "policy hidden layers, tanh (mjrl: 2)"},
    {"init_log_std", ORL_HPARAM_KIND_FLOAT, "-0.25", NULL, "initial log-std (mjrl MOReL: -0.25)"},
    {"min_log_std", ORL_HPARAM_KIND_FLOAT, "-1.0", NULL, "log-std floor (mjrl MOReL: -1.0)"},
    {"step_size", ORL_HPARAM_KIND_FLOAT, "0.02", NULL, "NPG normalised step (mjrl MOReL: 0.02)"},
    {"cg_iters", ORL_HPARAM_KIND_INT, "20", NULL, "conjugate gradient iterations (mjrl: 20)"},
    {"damping", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL, "Fisher damping (mjrl: 1e-3)"},
    {"gamma", ORL_HPARAM_KIND_FLOAT, "0.999", NULL, "discount (mjrl MOReL: 0.999)"},
    {"gae_lambda", ORL_HPARAM_KIND_FLOAT, "0.97", NULL, "GAE lambda (mjrl MOReL: 0.97)"},
    {"bc_epochs", ORL_HPARAM_KIND_INT, "5", NULL,
     "behaviour-cloning epochs of the policy's mean before planning (mjrl: 5; 0: none)"},
    {"bc_lr", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL, "BC Adam learning rate (mjrl: 1e-3)"},
    {"bc_batch", ORL_HPARAM_KIND_INT, "256", NULL, "BC batch"},
    {"baseline_lr", ORL_HPARAM_KIND_FLOAT, "1e-3", NULL,
     "value baseline's Adam learning rate (mjrl MLPBaseline: 1e-3, 128x128, 1 epoch)"},
    {"baseline_epochs", ORL_HPARAM_KIND_INT, "1", NULL, "baseline epochs per iteration (mjrl: 1)"},
    {NULL, 0, NULL, NULL, NULL}};

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void morel_free(void *state) {
    morel_state *s = state;
    if (!s) return;
    orl_dynamics_trainer_free(s->trainer);
    orl_pmdp_free(s->pmdp);
    orl_dynamics_free(s->model);
    orl_npg_free(s->npg);
    orl_policy_free(s->policy);
    free(s->obs_mean);
    free(s);
}

static int32_t hp_int(const orl_hparams *hp, const char *name) {
    return (int32_t)orl_hparams_number(hp, name);
}

static orl_status morel_create(const orl_learner_context *ctx, orl_rng *rng, void **state) {
    const orl_dataset *ds = ctx->train;
    const orl_hparams *hp = ctx->hp;
    if (ds->h.action_kind != ORL_ACTION_KIND_CONTINUOUS)
        ORL_FAIL(ORL_ERR_INPUT,
                 "morel: continuous actions only (the planner is a Gaussian policy)");
    orl_status st = ORL_OK;
    morel_state *s = calloc(1, sizeof *s);
    if (!s) ORL_FAIL(ORL_ERR_NOMEM, "morel: out of memory");
    s->ds = ds;
    s->config_json = ctx->config_json;
    const int32_t S = ds->h.obs_dim, A = ds->h.act_dim;

    /* the model: read now, or fitted by the phase (its seed the learner's first draw) */
    const char *model_path = orl_hparams_text(hp, "model");
    s->dcfg = orl_dynamics_config_defaults();
    s->dcfg.members = hp_int(hp, "members");
    s->dcfg.hidden = hp_int(hp, "model_hidden");
    s->dcfg.layers = hp_int(hp, "model_layers");
    s->dcfg.lr = (float)orl_hparams_number(hp, "model_lr");
    s->dcfg.batch = hp_int(hp, "model_batch");
    s->dcfg.epochs = hp_int(hp, "model_epochs");
    s->dcfg.patience = hp_int(hp, "model_patience");
    s->dcfg.holdout = orl_hparams_number(hp, "model_holdout");
    s->dcfg.pessimism = orl_hparams_number(hp, "pessimism");
    s->dcfg.seed = orl_rng_u64(rng) >> 1;
    if (strcmp(model_path, "none") != 0) {
        ORL_TRY_GOTO(st, fail, orl_dynamics_load(model_path, &s->model));
        ORL_TRY_GOTO(st, fail, orl_dynamics_check_dims(s->model, &ds->h, model_path));
    } else {
        ORL_TRY_GOTO(st, fail, orl_dynamics_config_check(&s->dcfg));
        ORL_TRY_GOTO(st, fail, orl_dynamics_trainer_create(&s->dcfg, ds, &s->trainer));
    }

    /* the P-MDP's settings (the model's horizon is known once it exists) */
    s->pcfg.starts_per_member = hp_int(hp, "starts_per_member");
    s->pcfg.horizon = hp_int(hp, "horizon");
    s->pcfg.halt_reward = orl_hparams_number(hp, "halt_reward");
    s->pcfg.threshold = orl_hparams_number(hp, "threshold");
    s->pcfg.use_done = hp_int(hp, "use_done") != 0;
    const char *reward = orl_hparams_text(hp, "reward");
    if (strcmp(reward, "env") == 0)
        ORL_TRY_GOTO(st, fail, orl_dynamics_env_reward(ds->h.env_id, S, A, &s->pcfg.reward_fn));
    if (s->pcfg.starts_per_member < 1 || s->pcfg.horizon < 0)
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "morel: expected starts_per_member >= 1 and horizon >= 0");
    int64_t horizon = s->pcfg.horizon > 0 ? s->pcfg.horizon : 0;
    if (horizon == 0) {
        /* the data's longest episode (the model's own horizon is the same number) */
        for (int64_t e = 0; e < ds->n_episodes; e++) {
            int64_t len = ds->ep_off[e + 1] - ds->ep_off[e];
            horizon = len > horizon ? len : horizon;
        }
    }
    s->pcfg.horizon = horizon;

    /* the planner: its rows are every path step of an iteration */
    orl_npg_config nc = orl_npg_defaults(S, A);
    nc.hidden = hp_int(hp, "policy_hidden");
    nc.layers = hp_int(hp, "policy_layers");
    nc.init_log_std = (float)orl_hparams_number(hp, "init_log_std");
    nc.min_log_std = (float)orl_hparams_number(hp, "min_log_std");
    nc.step_size = orl_hparams_number(hp, "step_size");
    nc.cg_iters = hp_int(hp, "cg_iters");
    nc.damping = orl_hparams_number(hp, "damping");
    nc.gamma = orl_hparams_number(hp, "gamma");
    nc.gae_lambda = orl_hparams_number(hp, "gae_lambda");
    nc.baseline_lr = (float)orl_hparams_number(hp, "baseline_lr");
    nc.baseline_epochs = hp_int(hp, "baseline_epochs");
    int32_t K = s->model ? s->model->cfg.members : s->dcfg.members;
    nc.max_rows = (int64_t)K * s->pcfg.starts_per_member * horizon;
    ORL_TRY_GOTO(st, fail, orl_npg_create(&nc, rng, &s->npg));
    s->bc_epochs = hp_int(hp, "bc_epochs");
    s->bc_batch = hp_int(hp, "bc_batch");
    s->bc_lr = (float)orl_hparams_number(hp, "bc_lr");
    if (s->bc_epochs < 0 || s->bc_batch < 1 || !(s->bc_lr > 0.0f))
        ORL_FAIL_GOTO(st, fail, ORL_ERR_INPUT,
                      "morel: expected bc_epochs >= 0, bc_batch >= 1, "
                      "bc_lr > 0");

    /* observation statistics of the data for the policy (eps 1e-3, as the other learners) */
    orl_normalizer nm = {0};
    ORL_TRY_GOTO(st, fail, orl_normalizer_fit(&nm, ds->obs, ds->n_steps, S, 1e-3f));
    s->obs_mean = malloc(2 * (size_t)S * sizeof(float));
    if (!s->obs_mean) {
        orl_normalizer_free(&nm);
        ORL_FAIL_GOTO(st, fail, ORL_ERR_NOMEM, "morel: out of memory");
    }
    s->obs_std = s->obs_mean + S;
    memcpy(s->obs_mean, nm.mean, (size_t)S * sizeof(float));
    memcpy(s->obs_std, nm.std, (size_t)S * sizeof(float));
    orl_normalizer_free(&nm);
    orl_npg_set_normalizer(s->npg, s->obs_mean, s->obs_std);

    orl_policy_info info = {"morel",       ctx->config_json, S, A, ORL_ACTION_KIND_CONTINUOUS, 0,
                            ds->h.act_low, ds->h.act_high};
    ORL_TRY_GOTO(st, fail, orl_npg_export(s->npg, &info, -5.0f, 2.0f, &s->policy));
    *state = s;
    return ORL_OK;
fail:
    morel_free(s);
    return st;
}

static const char *const morel_step_names[] = {
    "model_return", "halted",    "path_length", "kl",         "alpha", "baseline_loss",
    "log_std",      "rollout_s", "npg_s",       "baseline_s", "fit_s", "data_halted"};
enum { MOREL_N_METRICS = sizeof morel_step_names / sizeof morel_step_names[0] };

static orl_metric_names morel_metrics(void *state, orl_metric_kind kind) {
    (void)state;
    if (kind == ORL_METRIC_KIND_STEP) return (orl_metric_names){MOREL_N_METRICS, morel_step_names};
    return (orl_metric_names){0, NULL};
}

static void morel_sampling(void *state, orl_learner_sampling *out) {
    (void)state;
    out->rows = NULL;
    out->n_rows = 0;
    out->weight = NULL;
}

static int morel_phase_at(void *state, int64_t step, orl_phase *phase) {
    morel_state *s = state;
    if (step != 0) return 0;
    if (s->trainer) {
        phase->name = "model_fit";
        phase->units = s->dcfg.epochs + 1;
    } else {
        phase->name = "bc_init";
        phase->units = 1;
    }
    return 1;
}

/* the model (from the trainer's state when it was fitted here) and the P-MDP over it */
static orl_status ensure_pmdp(morel_state *s) {
    if (s->pmdp) return ORL_OK;
    if (!s->model) ORL_TRY(orl_dynamics_trainer_finish(s->trainer, &s->model));
    ORL_TRY(orl_pmdp_create(s->model, &s->pcfg, s->ds->h.act_low, s->ds->h.act_high, &s->pmdp));
    /* how much of the data's own behaviour the threshold halts (a diagnostic: near 1, the
     * planner cannot follow the data in the P-MDP; lower the pessimism) */
    return orl_dynamics_over_threshold(s->model, s->ds, orl_pmdp_threshold(s->pmdp), NULL,
                                       &s->data_halted);
}

static orl_status morel_phase_run(void *state, int64_t step, int64_t unit, orl_rng *rng) {
    morel_state *s = state;
    (void)step;
    int64_t last = s->trainer ? s->dcfg.epochs : 0;
    if (unit < last) {
        if (s->counters[0]) return ORL_OK; /* stopped early: the remaining epochs are empty */
        double t0 = cpu_seconds();
        int finished = 0;
        ORL_TRY(orl_dynamics_trainer_epoch(s->trainer, &finished));
        s->counters[0] = finished;
        s->fit_seconds += cpu_seconds() - t0;
        return ORL_OK;
    }
    /* the last unit: the model, then BC of the policy's mean on the training rows */
    double t0 = cpu_seconds();
    s->counters[0] = 1;
    ORL_TRY(ensure_pmdp(s));
    s->fit_seconds += cpu_seconds() - t0;
    if (s->bc_epochs > 0)
        ORL_TRY(orl_npg_bc(s->npg, s->ds->obs, s->ds->act, s->ds->n_steps, s->bc_epochs,
                           s->bc_batch, s->bc_lr, rng, NULL));
    s->counters[1] = 1;
    orl_npg_sync(s->npg, s->policy);
    return ORL_OK;
}

/* the P-MDP's action callback: the planner's Gaussian policy, chunk by chunk */
static void morel_act(void *ctx, const float *obs, int32_t batch, orl_rng *rng, float *act) {
    orl_npg *g = ctx;
    const orl_npg_config *c = orl_npg_get_config(g);
    for (int32_t b = 0; b < batch; b += c->chunk) {
        int32_t n = batch - b < c->chunk ? batch - b : c->chunk;
        orl_npg_act(g, obs + (size_t)b * (size_t)c->obs_dim, n, rng,
                    act + (size_t)b * (size_t)c->act_dim);
    }
}

static orl_status morel_step(void *state, const orl_batch *batch, int64_t step, orl_rng *rng,
                             double *metrics) {
    morel_state *s = state;
    (void)batch;
    (void)step;
    ORL_TRY(ensure_pmdp(s));
    orl_npg_paths paths;
    orl_pmdp_stats ps;
    ORL_TRY(orl_pmdp_rollouts(s->pmdp, morel_act, s->npg, rng, &paths, NULL, &ps));
    orl_npg_stats ns;
    ORL_TRY(orl_npg_update(s->npg, &paths, rng, &ns));
    orl_npg_sync(s->npg, s->policy);
    double m[MOREL_N_METRICS] = {ps.mean_return,  (double)ps.halted / (double)ps.rollouts,
                                 ns.mean_length,  ns.kl,
                                 ns.alpha,        ns.baseline_loss,
                                 ns.log_std_mean, ps.seconds,
                                 ns.npg_seconds,  ns.baseline_seconds,
                                 s->fit_seconds,  s->data_halted};
    memcpy(metrics, m, sizeof m);
    return ORL_OK;
}

static const orl_policy *morel_policy(void *state) {
    return ((morel_state *)state)->policy;
}

static orl_status morel_export_policy(void *state, orl_policy **out) {
    return orl_learner_copy_mlp_policy(((morel_state *)state)->policy, out);
}

static int32_t morel_buffers(void *state, orl_buffer *out, int32_t cap) {
    morel_state *s = state;
    int32_t n = 0;
    orl_buffer_put(out, cap, &n, "morel", "counters", s->counters, (int64_t)sizeof s->counters);
    orl_buffer_put(out, cap, &n, "morel", "fit_seconds", &s->fit_seconds,
                   (int64_t)sizeof s->fit_seconds);
    if (s->trainer) n = orl_dynamics_trainer_buffers(s->trainer, "model", out, cap, n);
    return orl_npg_buffers(s->npg, out, cap, n);
}

const orl_learner_ops orl_learner_morel = {
    .name = "morel",
    .summary = "MOReL: dynamics ensemble, pessimistic MDP with HALT on disagreement, NPG "
               "planning from BC (continuous); steps are NPG iterations",
    .hparams = morel_hparams,
    .default_steps = 150,
    .create = morel_create,
    .metrics = morel_metrics,
    .sampling = morel_sampling,
    .phase_at = morel_phase_at,
    .phase_run = morel_phase_run,
    .step = morel_step,
    .policy = morel_policy,
    .export_policy = morel_export_policy,
    .buffers = morel_buffers,
    .free = morel_free,
};

/* eval/gen.c and eval/policy_assets.c on the MuJoCo tasks, whose levels beyond random are SAC
 * policy files embedded into the library (assets/policies/ENV-LEVEL.h5). Checked on Reacher-v4's
 * committed expert: the embedded file opens from any working directory (also the source tree,
 * where a file of the same relative path exists), its generated data logs exactly the policy's
 * own log-densities and returns far above random; LEVEL+noise=X is the exact mixture with the
 * uniform density; a level without a file fails naming the levels that exist (also through
 * medium-replay and medium-expert, which need the medium file). Seeds are named in each test;
 * files go under ORL_BINARY_DIR/tmp-gen-mujoco/. Built with ORL_WITH_MUJOCO only. */
#include <criterion/criterion.h>

#ifdef ORL_WITH_MUJOCO
#include "orl/orl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SCRATCH_DIR ORL_BINARY_DIR "/tmp-gen-mujoco"
#include "tests/lsan_hdf5.h"
#include "tests/scratch.h"

static orl_status gen(const char *env, const char *behavior, int64_t episodes, uint64_t seed,
                      const char *path, orl_gen_report *rep) {
    orl_gen_options opt;
    memset(&opt, 0, sizeof opt);
    opt.env_id = env;
    opt.behavior = behavior;
    opt.episodes = episodes;
    opt.seed = seed;
    return orl_gen(&opt, path, rep);
}

Test(gen_mujoco, embedded_expert_opens_from_any_directory) {
    /* the source tree holds assets/policies/Reacher-v4-expert.h5 on disk: the image must not
     * be confused with it */
    const char *dirs[2] = {ORL_BINARY_DIR, ORL_SOURCE_DIR};
    for (int k = 0; k < 2; k++) {
        cr_assert_eq(chdir(dirs[k]), 0);
        orl_policy *p = NULL;
        cr_assert_eq(orl_policy_open("builtin:Reacher-v4/expert", &p), ORL_OK, "%s: %s", dirs[k],
                     orl_error_message());
        cr_assert_eq(p->obs_dim, 11);
        cr_assert_eq(p->act_dim, 2);
        cr_assert_eq(p->deterministic, 0);
        cr_assert_str_eq(p->ops->type, "mlp");
        cr_assert(strstr(p->source, "Reacher-v4-expert.h5"), "%s", p->source);
        orl_policy_free(p);
    }
}

Test(gen_mujoco, expert_data_logs_the_policys_log_density) {
    const char *path = scratch("reacher-expert.h5");
    orl_gen_report rep;
    cr_assert_eq(gen("Reacher-v4", "expert", 6, 3, path, &rep), ORL_OK, "%s", orl_error_message());
    cr_assert_eq(rep.n_steps, 6 * 50);
    /* random is about -43 (eval/scores.c), the expert about -5.6 */
    cr_assert(rep.return_mean > -15.0, "seed 3: expert mean return %g", rep.return_mean);
    orl_dataset *ds = NULL;
    cr_assert_eq(orl_dataset_read(path, NULL, NULL, &ds), ORL_OK, "%s", orl_error_message());
    cr_assert(strstr(ds->h.behavior, "expert"), "%s", ds->h.behavior);
    orl_policy *p = NULL;
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_open("builtin:Reacher-v4/expert", &p), ORL_OK);
    cr_assert_eq(orl_policy_work_create(p, 1, &w), ORL_OK);
    for (int64_t t = 0; t < ds->n_steps; t++) {
        double lp;
        cr_assert_eq(orl_policy_logp(p, w, ds->obs + t * 11, 1, ds->act + t * 2, NULL, &lp),
                     ORL_OK);
        cr_assert(isfinite(ds->logp_b[t]));
        cr_assert_eq(ds->logp_b[t], (float)lp, "step %lld: logged %g, policy %g", (long long)t,
                     (double)ds->logp_b[t], lp);
    }
    orl_policy_work_free(w);
    orl_policy_free(p);
    orl_dataset_free(ds);
}

Test(gen_mujoco, noise_is_the_exact_mixture_with_the_uniform_density) {
    orl_policy *expert = NULL, *half = NULL, *uniform = NULL;
    cr_assert_eq(orl_policy_open("builtin:Reacher-v4/expert", &expert), ORL_OK);
    cr_assert_eq(orl_policy_open("builtin:Reacher-v4/expert+noise=0.5", &half), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(orl_policy_open("builtin:Reacher-v4/expert+noise=1", &uniform), ORL_OK);
    orl_policy_work *we = NULL, *wh = NULL, *wu = NULL;
    cr_assert_eq(orl_policy_work_create(expert, 1, &we), ORL_OK);
    cr_assert_eq(orl_policy_work_create(half, 1, &wh), ORL_OK);
    cr_assert_eq(orl_policy_work_create(uniform, 1, &wu), ORL_OK);
    orl_rng rng;
    orl_rng_seed(&rng, 11, 0);
    float obs[11], act[2];
    for (int k = 0; k < 50; k++) {
        for (int i = 0; i < 11; i++) obs[i] = (float)(orl_rng_uniform(&rng) - 0.5);
        cr_assert_eq(orl_policy_act(half, wh, obs, 1, ORL_POLICY_MODE_SAMPLE, &rng, act, NULL),
                     ORL_OK);
        cr_assert(act[0] >= -1.0f && act[0] <= 1.0f && act[1] >= -1.0f && act[1] <= 1.0f);
        double le, lh, lu;
        cr_assert_eq(orl_policy_logp(expert, we, obs, 1, act, NULL, &le), ORL_OK);
        cr_assert_eq(orl_policy_logp(half, wh, obs, 1, act, NULL, &lh), ORL_OK);
        cr_assert_eq(orl_policy_logp(uniform, wu, obs, 1, act, NULL, &lu), ORL_OK);
        /* the box [-1, 1]^2 has volume 4 */
        double want = log(0.5 * exp(le) + 0.5 / 4.0);
        cr_assert(fabs(lh - want) < 1e-9 * fmax(1.0, fabs(want)), "%g vs %g", lh, want);
        cr_assert(fabs(lu + log(4.0)) < 1e-12, "%g", lu);
    }
    orl_policy_work_free(we);
    orl_policy_work_free(wh);
    orl_policy_work_free(wu);
    orl_policy_free(expert);
    orl_policy_free(half);
    orl_policy_free(uniform);
}

Test(gen_mujoco, a_missing_level_names_the_levels_that_exist) {
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open("builtin:Reacher-v4/superhuman", &p), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "levels that exist for Reacher-v4 are random"), "%s",
              orl_error_message());
    cr_assert(strstr(orl_error_message(), "expert"), "%s", orl_error_message());
    cr_assert_eq(orl_policy_open("builtin:Reacher-v4/expert+noise=2", &p), ORL_ERR_INPUT);
    cr_assert_null(p);
    /* medium-replay and medium-expert need the medium file: no output file is left */
    const char *behaviors[2] = {"medium-replay", "medium-expert"};
    for (int k = 0; k < 2; k++) {
        const char *path = scratch("nothing.h5");
        cr_assert_eq(gen("Ant-v4", behaviors[k], 10, 0, path, NULL), ORL_ERR_INPUT);
        cr_assert(strstr(orl_error_message(), "no behaviour policy 'medium' for Ant-v4"), "%s",
                  orl_error_message());
        cr_assert_neq(access(path, F_OK), 0);
    }
}
#else
Test(gen_mujoco, needs_mujoco, .disabled = 1) {}
#endif

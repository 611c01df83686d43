/* Reference scores: the one table of random and expert mean returns per environment, and the
 * D4RL normalised score 100 (R - random) / (expert - random).
 *
 * Every number was measured with orl_eval itself (sample mode) on the builtin behaviours
 * "ENV/random" and "ENV/expert" of behavior.h, REFERENCE_EPISODES episodes each, seed
 * REFERENCE_SEED; the standard errors are of those means. GridWorld-4x4's values are exact:
 * orl_tabular_policy_value with gamma 1 over the time limit (episodes 0, standard error 0).
 * docs/reference-scores.md carries the same table and how to re-measure it; tests/test_eval.c
 * re-measures CartPole-v1's random entry and GridWorld-4x4's and compares.
 *
 * The four MuJoCo locomotion tasks carry D4RL's published references instead (d4rl/infos.py,
 * REF_MIN_SCORE and REF_MAX_SCORE, the same for every dataset of a task), so that a policy
 * trained on a D4RL file and evaluated here gets the normalised score papers report; they were
 * not measured here (episodes 0, standard errors 0). docs/environments.md compares a uniform
 * random policy on our environments with REF_MIN_SCORE. Reacher-v4 and Pusher-v4 have no D4RL
 * references: theirs are our own, measured as the classic tasks' (orl_eval, sample mode, 1000
 * episodes, seed 0) on the uniform random policy and on the SAC policy embedded from
 * assets/policies/ENV-expert.h5 (builtin:ENV/expert); values to 9 significant digits, as
 * `orl eval --json` printed them. A retrained policy file needs a re-measured entry. */
#include "orl/eval.h"

#include <math.h>
#include <string.h>

#define REFERENCE_EPISODES 1000
#define REFERENCE_SEED     0
#define MEASURED           "orl_eval, builtin behaviours, sample mode"
#define EXACT              "dynamic programming (tabular.h), undiscounted, time limit as horizon"
#define SAC_MEASURED       "orl_eval, uniform random and the embedded SAC policy file, sample mode"
#define D4RL               "published: D4RL infos.py REF_MIN_SCORE (random) and REF_MAX_SCORE (expert)"

/* env, random mean, SE, expert mean, SE, episodes, seed, method */
static const orl_reference table[] = {
    {"CartPole-v1", 22.550999999999998, 0.41206212419269256, 500, 0, REFERENCE_EPISODES,
     REFERENCE_SEED, MEASURED},
    {"Acrobot-v1", -498.80599999999998, 0.38452857660546647, -84.114999999999995,
     0.96401613166072364, REFERENCE_EPISODES, REFERENCE_SEED, MEASURED},
    {"MountainCar-v0", -200, 0, -119.307, 0.15751050936544062, REFERENCE_EPISODES, REFERENCE_SEED,
     MEASURED},
    {"Pendulum-v1", -1231.5463274152939, 9.0552570305288729, -153.04068113779743,
     2.9186889629980377, REFERENCE_EPISODES, REFERENCE_SEED, MEASURED},
    {"MountainCarContinuous-v0", -33.280039522473032, 0.029914805471123948, 95.704712274963157,
     0.026622172663075001, REFERENCE_EPISODES, REFERENCE_SEED, MEASURED},
    {"GridWorld-4x4", 2.9742854311465261, 0, 95.668296909717327, 0, 0, REFERENCE_SEED, EXACT},
    {"PointMaze-UMaze", 10.074, 0.80700916214612384, 269.62200000000001, 0.027052686518123138,
     REFERENCE_EPISODES, REFERENCE_SEED, MEASURED},
    {"PointMaze-UMaze-Dense", 43.940578373947595, 0.70413225456303619, 259.57302993289233,
     0.038451647135236321, REFERENCE_EPISODES, REFERENCE_SEED, MEASURED},
    {"PointMaze-Medium", 2.2160000000000002, 0.45404349956748991, 548.66600000000005,
     0.051039681122133584, REFERENCE_EPISODES, REFERENCE_SEED, MEASURED},
    {"PointMaze-Medium-Dense", 9.8220601762812443, 0.66576218117056407, 524.03326054763738,
     0.068090208112672773, REFERENCE_EPISODES, REFERENCE_SEED, MEASURED},
    {"Hopper-v4", -20.272305, 0, 3234.3, 0, 0, 0, D4RL},
    {"HalfCheetah-v4", -280.178953, 0, 12135.0, 0, 0, 0, D4RL},
    {"Walker2d-v4", 1.629008, 0, 4592.3, 0, 0, 0, D4RL},
    {"Ant-v4", -325.6, 0, 3879.7, 0, 0, 0, D4RL},
    {"Reacher-v4", -42.9879638, 0.121258455, -5.63970544, 0.0558639801, REFERENCE_EPISODES,
     REFERENCE_SEED, SAC_MEASURED},
    {"Pusher-v4", -149.442773, 0.238298996, -46.2544505, 0.294165401, REFERENCE_EPISODES,
     REFERENCE_SEED, SAC_MEASURED},
};

#define N_REFERENCES ((int32_t)(sizeof table / sizeof table[0]))

int32_t orl_reference_count(void) {
    return N_REFERENCES;
}

const orl_reference *orl_reference_get(int32_t i) {
    return i >= 0 && i < N_REFERENCES ? &table[i] : NULL;
}

orl_status orl_reference_score(const char *env_id, double *random, double *expert) {
    for (int32_t i = 0; i < N_REFERENCES; i++)
        if (strcmp(table[i].env_id, env_id) == 0) {
            if (random) *random = table[i].random_return;
            if (expert) *expert = table[i].expert_return;
            return ORL_OK;
        }
    ORL_FAIL(ORL_ERR_INPUT, "no reference scores for environment '%s'", env_id);
}

double orl_normalized_score_from(double R, double random, double expert) {
    if (expert == random) return NAN;
    return 100.0 * (R - random) / (expert - random);
}

double orl_normalized_score(const char *env_id, double R) {
    for (int32_t i = 0; i < N_REFERENCES; i++)
        if (strcmp(table[i].env_id, env_id) == 0)
            return orl_normalized_score_from(R, table[i].random_return, table[i].expert_return);
    return NAN;
}

orl_status orl_eval_for_training(void *ctx, const orl_policy *p, const char *env_id,
                                 int64_t episodes, uint64_t seed, double *mean_return,
                                 double *score) {
    (void)ctx;
    orl_rollout_summary sum;
    ORL_TRY(orl_eval(p, env_id, episodes, seed, ORL_POLICY_MODE_MEAN, &sum, NULL));
    *mean_return = sum.return_mean;
    *score = orl_normalized_score(env_id, sum.return_mean);
    return ORL_OK;
}

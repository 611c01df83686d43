/* orl eval POLICY --env ID [--episodes N] [--seed S] [--mode sample|mean] [--json]
 * [--dump-qpos CSV]: runs a policy file or a builtin behaviour in an environment and reports
 * the mean return, its standard error, the normalised score against the reference table and the
 * episode lengths; on a MuJoCo task it can also write the first episode's joint positions. */
#include "cli/cli.h"
#include "orl/behavior.h"
#include "orl/eval.h"
#include "orl/mujoco.h"
#include "core/json_util.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_EPISODES 10

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl eval POLICY --env ID [--episodes N] [--seed S] [--mode sample|mean] "
            "[--json]\n                [--dump-qpos CSV]\n\n"
            "Runs POLICY (a policy file, or builtin:ENV/LEVEL with LEVEL random, medium, expert\n"
            "or noise=X) for N episodes (default %d) in environment ID, every episode seeded\n"
            "from S (default 0) and its index, and prints the mean return, its standard error,\n"
            "the normalised score 100 (R - random) / (expert - random) against the reference\n"
            "table (docs/reference-scores.md), and the episode lengths. --mode defaults to mean\n"
            "for policy files (the mean or argmax action) and sample for builtin behaviours\n"
            "(which are defined by their distribution).\n\n"
            "--dump-qpos CSV (MuJoCo tasks) also writes the first episode's joint positions,\n"
            "one row per step (step,time,reward, then one column per qpos entry named by\n"
            "joint): setting MuJoCo's qpos to a row and calling mj_forward replays it.\n\n"
            "orl eval --measure-references [--episodes N] [--seed S] re-measures the reference\n"
            "table (default 1000 episodes, seed 0) and prints it beside the stored values; exit\n"
            "status 1 when a Monte Carlo entry differs.\n",
            DEFAULT_EPISODES);
}

/* re-measures the reference table: the builtin random and expert behaviours of every
 * environment in sample mode, printed beside the stored values (exit 1 when one differs) */
static int measure_references(int64_t episodes, uint64_t seed) {
    int differs = 0;
    printf("| environment | random | expert | stored random | stored expert |\n"
           "|---|---|---|---|---|\n");
    for (int32_t i = 0; i < orl_env_count(); i++) {
        const char *id = orl_env_id(i);
        /* no builtin expert to measure (the MuJoCo tasks: D4RL's published references) */
        if (isnan(orl_behavior_medium_noise(id))) continue;
        orl_rollout_summary sum[2];
        const char *levels[2] = {"random", "expert"};
        for (int k = 0; k < 2; k++) {
            char name[128];
            snprintf(name, sizeof name, "builtin:%s/%s", id, levels[k]);
            orl_policy *p = NULL;
            orl_status st = orl_policy_open(name, &p);
            if (st == ORL_OK)
                st = orl_eval(p, id, episodes, seed, ORL_POLICY_MODE_SAMPLE, &sum[k], NULL);
            orl_policy_free(p);
            if (st) return cli_fail("eval", st);
        }
        double random = NAN, expert = NAN;
        int exact = 0;
        for (int32_t r = 0; r < orl_reference_count(); r++)
            if (strcmp(orl_reference_get(r)->env_id, id) == 0) {
                random = orl_reference_get(r)->random_return;
                expert = orl_reference_get(r)->expert_return;
                exact = orl_reference_get(r)->episodes == 0;
            }
        printf("| %s | %.4f ± %.4f | %.4f ± %.4f | %.4f | %.4f |\n", id, sum[0].return_mean,
               sum[0].return_stderr, sum[1].return_mean, sum[1].return_stderr, random, expert);
        if (!exact && !(fabs(sum[0].return_mean - random) <= 1e-9 &&
                        fabs(sum[1].return_mean - expert) <= 1e-9))
            differs = 1;
    }
    printf("(%lld episodes per behaviour, seed %" PRIu64 ", sample mode; GridWorld-4x4's stored "
           "values are exact, by dynamic programming)\n",
           (long long)episodes, seed);
    return differs ? CLI_EXIT_CHECK_FAILED : CLI_EXIT_OK;
}

int cmd_eval(int argc, char **argv) {
    const char *policy_name = NULL, *env_id = NULL, *mode_name = NULL, *dump = NULL;
    int64_t episodes = DEFAULT_EPISODES;
    uint64_t seed = 0;
    int as_json = 0, references = 0, episodes_given = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--measure-references") == 0) {
            references = 1;
        } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
            env_id = argv[++i];
        } else if (strcmp(argv[i], "--episodes") == 0 && i + 1 < argc) {
            if (cli_parse_int("eval", argv[i], argv[i + 1], 1, INT64_MAX, &episodes))
                return CLI_EXIT_BAD_INPUT;
            i++;
            episodes_given = 1;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            int64_t s;
            if (cli_parse_int("eval", argv[i], argv[i + 1], 0, INT64_MAX, &s))
                return CLI_EXIT_BAD_INPUT;
            seed = (uint64_t)s;
            i++;
        } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
            mode_name = argv[++i];
            if (strcmp(mode_name, "sample") != 0 && strcmp(mode_name, "mean") != 0)
                return cli_usage_error("eval", "--mode is sample or mean, got '%s'", mode_name);
        } else if (strcmp(argv[i], "--dump-qpos") == 0 && i + 1 < argc) {
            dump = argv[++i];
        } else if (argv[i][0] == '-') {
            return cli_usage_error("eval", "unknown option '%s'", argv[i]);
        } else if (!policy_name) {
            policy_name = argv[i];
        } else {
            return cli_usage_error("eval", "one POLICY expected, got '%s' too", argv[i]);
        }
    }
    if (references) return measure_references(episodes_given ? episodes : 1000, seed);
    if (!policy_name) return cli_usage_error("eval", "POLICY missing");
    if (!env_id) return cli_usage_error("eval", "--env ID missing");

    /* the environment first: a bad id is reported before a policy file is read */
    orl_env *env = NULL;
    orl_status st = orl_env_make(env_id, &env);
    if (st) return cli_fail("eval", st);
    orl_env_free(env);

    orl_policy *p = NULL;
    int builtin = strncmp(policy_name, "builtin:", 8) == 0;
    st = orl_policy_open(policy_name, &p);
    if (st) return cli_fail("eval", st);
    orl_policy_mode mode = builtin ? ORL_POLICY_MODE_SAMPLE : ORL_POLICY_MODE_MEAN;
    if (mode_name)
        mode = strcmp(mode_name, "sample") == 0 ? ORL_POLICY_MODE_SAMPLE : ORL_POLICY_MODE_MEAN;

    orl_rollout_summary sum;
    int32_t dump_steps = 0;
    /* the dump first: an environment that is not a MuJoCo task fails before the evaluation */
    if (dump) st = orl_mujoco_trajectory_csv(p, env_id, mode, seed, dump, &dump_steps);
    if (st == ORL_OK) st = orl_eval(p, env_id, episodes, seed, mode, &sum, NULL);
    orl_policy_free(p);
    if (st) return cli_fail("eval", st);
    double random = NAN, expert = NAN;
    int have_ref = orl_reference_score(env_id, &random, &expert) == ORL_OK;
    orl_error_clear();
    double score = have_ref ? orl_normalized_score_from(sum.return_mean, random, expert) : NAN;
    double score_se =
        have_ref && expert != random ? 100.0 * sum.return_stderr / fabs(expert - random) : NAN;
    const char *mode_text = mode == ORL_POLICY_MODE_SAMPLE ? "sample" : "mean";

    if (as_json) {
        json_t *j = json_object();
        json_object_set_new(j, "policy", json_string(policy_name));
        json_object_set_new(j, "env_id", json_string(env_id));
        json_object_set_new(j, "episodes", json_integer(sum.n_episodes));
        json_object_set_new(j, "steps", json_integer(sum.n_steps));
        json_object_set_new(j, "seed", json_integer((json_int_t)seed));
        json_object_set_new(j, "mode", json_string(mode_text));
        json_object_set_new(j, "return_mean", json_real(sum.return_mean));
        json_object_set_new(j, "return_stderr", json_real(sum.return_stderr));
        json_object_set_new(j, "return_min", json_real(sum.return_min));
        json_object_set_new(j, "return_max", json_real(sum.return_max));
        json_object_set_new(j, "normalized_score", orl_json_number(score));
        json_object_set_new(j, "normalized_score_stderr", orl_json_number(score_se));
        json_object_set_new(j, "reference_random", orl_json_number(random));
        json_object_set_new(j, "reference_expert", orl_json_number(expert));
        json_t *len = json_object();
        json_object_set_new(len, "min", json_integer(sum.length_min));
        json_object_set_new(len, "mean", json_real(sum.length_mean));
        json_object_set_new(len, "max", json_integer(sum.length_max));
        json_object_set_new(j, "episode_length", len);
        if (dump) {
            json_object_set_new(j, "qpos_csv", json_string(dump));
            json_object_set_new(j, "qpos_steps", json_integer(dump_steps));
        }
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        printf("%s\n", text);
        free(text);
        json_decref(j);
        return CLI_EXIT_OK;
    }
    printf("%s on %s: %lld episodes, %s mode, seed %" PRIu64 "\n", policy_name, env_id,
           (long long)sum.n_episodes, mode_text, seed);
    printf("  %-18s %.4f +- %.4f (standard error)\n", "mean return", sum.return_mean,
           sum.return_stderr);
    printf("  %-18s min %.4g, max %.4g\n", "episode return", sum.return_min, sum.return_max);
    if (have_ref)
        printf("  %-18s %.1f +- %.1f (random %.4g, expert %.4g)\n", "normalised score", score,
               score_se, random, expert);
    else
        printf("  %-18s n/a (no reference scores for %s)\n", "normalised score", env_id);
    printf("  %-18s min %d, mean %.1f, max %d\n", "episode length", sum.length_min, sum.length_mean,
           sum.length_max);
    if (dump) printf("  %-18s %s (episode 0, %d steps)\n", "joint positions", dump, dump_steps);
    return CLI_EXIT_OK;
}

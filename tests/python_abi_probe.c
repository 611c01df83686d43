/* Prints the size and field offsets of every struct the Python binding (python/orl/_capi.py)
 * mirrors with ctypes, as JSON: python/tests/test_orl.py compares them with its own layouts, so
 * a struct changed in C without the binding fails a test instead of corrupting memory. */
#include "orl/orl.h"

#include <stddef.h>
#include <stdio.h>

static int first_struct = 1, first_field;

static void open_struct(const char *name, size_t size) {
    printf("%s\n  \"%s\": {\"size\": %zu, \"fields\": {", first_struct ? "{" : ",", name, size);
    first_struct = 0;
    first_field = 1;
}

static void field(const char *name, size_t offset) {
    printf("%s\"%s\": %zu", first_field ? "" : ", ", name, offset);
    first_field = 0;
}

#define STRUCT(T)   open_struct(#T, sizeof(T))
#define FIELD(T, f) field(#f, offsetof(T, f))
#define END()       printf("}}")

int main(void) {
    STRUCT(orl_header);
    FIELD(orl_header, obs_dim), FIELD(orl_header, act_dim), FIELD(orl_header, action_kind);
    FIELD(orl_header, n_actions), FIELD(orl_header, has_logp), FIELD(orl_header, env_id);
    FIELD(orl_header, source), FIELD(orl_header, behavior), FIELD(orl_header, tool);
    FIELD(orl_header, discount), FIELD(orl_header, reward_min), FIELD(orl_header, reward_max);
    FIELD(orl_header, horizon), FIELD(orl_header, obs_low), FIELD(orl_header, obs_high);
    FIELD(orl_header, act_low), FIELD(orl_header, act_high);
    END();
    STRUCT(orl_dataset);
    FIELD(orl_dataset, h), FIELD(orl_dataset, n_steps), FIELD(orl_dataset, n_episodes);
    FIELD(orl_dataset, cap_steps), FIELD(orl_dataset, cap_episodes), FIELD(orl_dataset, obs);
    FIELD(orl_dataset, next_obs), FIELD(orl_dataset, act), FIELD(orl_dataset, act_idx);
    FIELD(orl_dataset, rew), FIELD(orl_dataset, terminal), FIELD(orl_dataset, timeout);
    FIELD(orl_dataset, logp_b), FIELD(orl_dataset, ep_off), FIELD(orl_dataset, mem);
    END();
    STRUCT(orl_write_options);
    FIELD(orl_write_options, layout), FIELD(orl_write_options, append);
    FIELD(orl_write_options, gzip_level), FIELD(orl_write_options, chunk_rows);
    FIELD(orl_write_options, already_present);
    END();
    STRUCT(struct orl_policy);
    FIELD(struct orl_policy, ops), FIELD(struct orl_policy, impl);
    FIELD(struct orl_policy, algorithm), FIELD(struct orl_policy, source);
    FIELD(struct orl_policy, config_json), FIELD(struct orl_policy, obs_dim);
    FIELD(struct orl_policy, act_dim), FIELD(struct orl_policy, action_kind);
    FIELD(struct orl_policy, n_actions), FIELD(struct orl_policy, act_low);
    FIELD(struct orl_policy, act_high), FIELD(struct orl_policy, deterministic);
    END();
    STRUCT(orl_rng);
    END();
    STRUCT(orl_train_options);
    FIELD(orl_train_options, algo), FIELD(orl_train_options, learner);
    FIELD(orl_train_options, sets), FIELD(orl_train_options, n_sets);
    FIELD(orl_train_options, steps), FIELD(orl_train_options, batch);
    FIELD(orl_train_options, seed), FIELD(orl_train_options, val_fraction);
    FIELD(orl_train_options, log_every), FIELD(orl_train_options, log_path);
    FIELD(orl_train_options, eval_env), FIELD(orl_train_options, eval_every);
    FIELD(orl_train_options, eval_episodes), FIELD(orl_train_options, evaluate);
    FIELD(orl_train_options, evaluate_ctx), FIELD(orl_train_options, checkpoint_path);
    FIELD(orl_train_options, checkpoint_every), FIELD(orl_train_options, resume);
    FIELD(orl_train_options, stop_after), FIELD(orl_train_options, data_path);
    FIELD(orl_train_options, progress);
    END();
    STRUCT(orl_train_metrics);
    FIELD(orl_train_metrics, n), FIELD(orl_train_metrics, names), FIELD(orl_train_metrics, values);
    END();
    STRUCT(orl_train_result);
    FIELD(orl_train_result, steps_done), FIELD(orl_train_result, resumed_from);
    FIELD(orl_train_result, last), FIELD(orl_train_result, val);
    FIELD(orl_train_result, eval_return), FIELD(orl_train_result, eval_score);
    FIELD(orl_train_result, seconds), FIELD(orl_train_result, train_episodes);
    FIELD(orl_train_result, val_episodes), FIELD(orl_train_result, config_json);
    END();
    STRUCT(orl_rollout_summary);
    FIELD(orl_rollout_summary, n_episodes), FIELD(orl_rollout_summary, n_steps);
    FIELD(orl_rollout_summary, return_mean), FIELD(orl_rollout_summary, return_stderr);
    FIELD(orl_rollout_summary, return_min), FIELD(orl_rollout_summary, return_max);
    FIELD(orl_rollout_summary, length_min), FIELD(orl_rollout_summary, length_max);
    FIELD(orl_rollout_summary, length_mean);
    END();
    STRUCT(orl_gen_options);
    FIELD(orl_gen_options, env_id), FIELD(orl_gen_options, behavior);
    FIELD(orl_gen_options, search), FIELD(orl_gen_options, episodes);
    FIELD(orl_gen_options, steps), FIELD(orl_gen_options, seed);
    FIELD(orl_gen_options, source), FIELD(orl_gen_options, progress);
    END();
    STRUCT(orl_ope_run_estimator);
    FIELD(orl_ope_run_estimator, name), FIELD(orl_ope_run_estimator, kind);
    FIELD(orl_ope_run_estimator, base), FIELD(orl_ope_run_estimator, ris);
    END();
    STRUCT(orl_ope_environment);
    FIELD(orl_ope_environment, registered), FIELD(orl_ope_environment, tabular);
    FIELD(orl_ope_environment, n_states), FIELD(orl_ope_environment, n_actions);
    FIELD(orl_ope_environment, max_episode_steps), FIELD(orl_ope_environment, policy_probs);
    FIELD(orl_ope_environment, return_range);
    END();
    STRUCT(orl_ope_return_range);
    FIELD(orl_ope_return_range, lo), FIELD(orl_ope_return_range, hi);
    FIELD(orl_ope_return_range, source);
    END();
    STRUCT(orl_ope_run_options);
    FIELD(orl_ope_run_options, n_estimators), FIELD(orl_ope_run_options, estimators);
    FIELD(orl_ope_run_options, behavior_estimated), FIELD(orl_ope_run_options, gamma);
    FIELD(orl_ope_run_options, confidence), FIELD(orl_ope_run_options, bootstrap);
    FIELD(orl_ope_run_options, seed), FIELD(orl_ope_run_options, fqe_steps);
    FIELD(orl_ope_run_options, fqe), FIELD(orl_ope_run_options, environment);
    FIELD(orl_ope_run_options, fail_below), FIELD(orl_ope_run_options, baseline);
    FIELD(orl_ope_run_options, margin), FIELD(orl_ope_run_options, gate_estimator);
    FIELD(orl_ope_run_options, min_ess), FIELD(orl_ope_run_options, return_range);
    END();
    printf("\n}\n");
    return 0;
}

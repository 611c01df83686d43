/* orl info FILE [--json]: what a dataset file holds, read in one streaming pass. */
#include "cli/cli.h"
#include "core/json_util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl info FILE [--json] [--layout d4rl|minari|d3rlpy|sqlite] "
            "[--max-episode-steps K]\n\n"
            "Describes a dataset: format and layout, steps, episodes, dimensions, action kind\n"
            "and bounds, return statistics, terminal/timeout counts, whether behaviour\n"
            "log-probabilities are present, size on disk. Reads the file in one streaming pass.\n");
}

static json_t *float_array(const float *x, int32_t n) {
    json_t *a = json_array();
    for (int32_t i = 0; i < n; i++) json_array_append_new(a, orl_json_number(x[i]));
    return a;
}

static json_t *summary_json(const char *path, const orl_summary *s) {
    const orl_header *h = &s->h;
    int discrete = h->action_kind == ORL_ACTION_KIND_DISCRETE;
    json_t *j = json_object();
    json_object_set_new(j, "file", json_string(path));
    json_object_set_new(j, "layout", json_string(s->layout));
    json_object_set_new(j, "format",
                        json_string(strcmp(s->layout, "sqlite") == 0 ? "sqlite" : "hdf5"));
    json_object_set_new(j, "steps", json_integer(s->n_steps));
    json_object_set_new(j, "rows_in_file", json_integer(s->rows_in_file));
    json_object_set_new(j, "episodes", json_integer(s->n_episodes));
    json_object_set_new(j, "obs_dim", json_integer(h->obs_dim));
    json_object_set_new(j, "action_kind", json_string(discrete ? "discrete" : "continuous"));
    if (discrete)
        json_object_set_new(j, "n_actions", json_integer(h->n_actions));
    else
        json_object_set_new(j, "act_dim", json_integer(h->act_dim));
    json_object_set_new(j, "act_low", float_array(h->act_low, h->act_dim));
    json_object_set_new(j, "act_high", float_array(h->act_high, h->act_dim));
    json_object_set_new(j, "act_min_observed", float_array(s->act_min, h->act_dim));
    json_object_set_new(j, "act_max_observed", float_array(s->act_max, h->act_dim));
    json_object_set_new(j, "terminal_episodes", json_integer(s->n_terminal));
    json_object_set_new(j, "timeout_episodes", json_integer(s->n_timeout));
    json_object_set_new(j, "open_episodes", json_integer(s->n_open));
    json_t *len = json_object();
    json_object_set_new(len, "min", json_integer(s->len_min));
    json_object_set_new(len, "mean", json_real(s->len_mean));
    json_object_set_new(len, "max", json_integer(s->len_max));
    json_object_set_new(j, "episode_length", len);
    json_t *ret = json_object();
    json_object_set_new(ret, "min", json_real(s->return_min));
    json_object_set_new(ret, "median", json_real(s->return_median));
    json_object_set_new(ret, "mean", json_real(s->return_mean));
    json_object_set_new(ret, "max", json_real(s->return_max));
    json_object_set_new(j, "return", ret);
    json_object_set_new(j, "behavior_logp", json_boolean(h->has_logp));
    json_object_set_new(j, "env_id", json_string(h->env_id));
    json_object_set_new(j, "behavior", json_string(h->behavior));
    json_object_set_new(j, "source", json_string(h->source));
    json_object_set_new(j, "tool", json_string(h->tool));
    json_object_set_new(j, "discount", orl_json_number(h->discount));
    json_object_set_new(j, "size_bytes", json_integer(s->size_bytes));
    return j;
}

static void print_range(const char *name, const float *lo, const float *hi, int32_t n) {
    printf("  %-18s", name);
    int32_t shown = n < 8 ? n : 8;
    for (int32_t i = 0; i < shown; i++) printf(" [%.4g, %.4g]", (double)lo[i], (double)hi[i]);
    if (n > shown) printf(" ... (%d dims)", n);
    printf("\n");
}

static int has_bounds(const float *x, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        if (!isnan(x[i])) return 1;
    return 0;
}

void cli_print_summary(const char *path, const orl_summary *s) {
    const orl_header *h = &s->h;
    int discrete = h->action_kind == ORL_ACTION_KIND_DISCRETE;
    printf("%s\n", path);
    printf("  %-18s %s (%s)\n", "format", strcmp(s->layout, "sqlite") == 0 ? "sqlite" : "hdf5",
           s->layout);
    printf("  %-18s %lld", "steps", (long long)s->n_steps);
    if (s->rows_in_file >= 0 && s->rows_in_file != s->n_steps)
        printf(" (%lld rows stored; %lld without a successor dropped)", (long long)s->rows_in_file,
               (long long)(s->rows_in_file - s->n_steps));
    printf("\n  %-18s %lld (%lld terminal, %lld timeout%s)\n", "episodes", (long long)s->n_episodes,
           (long long)s->n_terminal, (long long)s->n_timeout,
           s->n_open ? ", 1 open at the end" : "");
    printf("  %-18s min %lld, mean %.1f, max %lld\n", "episode length", (long long)s->len_min,
           s->len_mean, (long long)s->len_max);
    printf("  %-18s %d\n", "observation dim", h->obs_dim);
    if (discrete)
        printf("  %-18s discrete, %d actions (observed %g..%g)\n", "actions", h->n_actions,
               (double)s->act_min[0], (double)s->act_max[0]);
    else {
        printf("  %-18s continuous, dim %d\n", "actions", h->act_dim);
        if (has_bounds(h->act_low, h->act_dim))
            print_range("action bounds", h->act_low, h->act_high, h->act_dim);
        print_range("actions observed", s->act_min, s->act_max, h->act_dim);
    }
    printf("  %-18s min %.4g, median %.4g, mean %.4g, max %.4g\n", "episode return", s->return_min,
           s->return_median, s->return_mean, s->return_max);
    printf("  %-18s [%.4g, %.4g]\n", "reward range", s->rew_min, s->rew_max);
    printf("  %-18s %s\n", "behaviour log-prob", h->has_logp ? "present" : "absent");
    if (h->env_id[0]) printf("  %-18s %s\n", "env", h->env_id);
    if (h->behavior[0]) printf("  %-18s %s\n", "behaviour", h->behavior);
    if (h->source[0]) printf("  %-18s %s\n", "source", h->source);
    if (h->tool[0]) printf("  %-18s %s\n", "written by", h->tool);
    printf("  %-18s %.2f MB\n", "size on disk", (double)s->size_bytes / 1e6);
}

int cmd_info(int argc, char **argv) {
    const char *path = NULL;
    int as_json = 0;
    orl_read_options opt = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (strcmp(argv[i], "--layout") == 0 && i + 1 < argc) {
            opt.layout = argv[++i];
        } else if (strcmp(argv[i], "--max-episode-steps") == 0 && i + 1 < argc) {
            if (cli_parse_int("info", argv[i], argv[i + 1], 1, INT64_MAX, &opt.max_episode_steps))
                return CLI_EXIT_BAD_INPUT;
            i++;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("info", "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return cli_usage_error("info", "one FILE expected, got '%s' too", argv[i]);
        }
    }
    if (!path) return cli_usage_error("info", "FILE missing");
    orl_summary s;
    orl_progress progress = cli_progress();
    orl_status st = orl_summarize(path, &opt, &progress, &s);
    cli_progress_done();
    if (st) return cli_fail("info", st);
    if (as_json) {
        json_t *j = summary_json(path, &s);
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        printf("%s\n", text);
        free(text);
        json_decref(j);
    } else {
        cli_print_summary(path, &s);
    }
    orl_summary_free(&s);
    return CLI_EXIT_OK;
}

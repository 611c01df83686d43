/* orl policy from-table TABLE --env ID -o POLICY.h5: a softmax parameter table (the
 * regression-importance-sampling study's theta[a*S + s], like the fixtures' p1.txt / p2.txt)
 * becomes a tabular policy file.
 * orl policy info POLICY [--json]: what a policy file (or builtin:ENV/LEVEL) holds.
 * orl policy export POLICY --c -o OUT.c [--name NAME]: the policy as one dependency-free C
 * file for a control loop (policy.h's orl_policy_export_c). */
#include "cli/cli.h"
#include "orl/behavior.h"
#include "orl/fs.h"
#include "orl/tabular_policy.h"
#include "core/json_util.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: orl policy from-table TABLE --env ID -o POLICY.h5\n"
            "       orl policy info POLICY [--json]\n"
            "       orl policy export POLICY --c -o OUT.c [--name NAME]\n"
            "       orl policy export POLICY --onnx -o OUT.onnx\n\n"
            "from-table reads a softmax parameter table: whitespace-separated numbers\n"
            "theta[a * R + s] for R states and the environment's actions, and writes a tabular\n"
            "policy (policy_type \"tabular\") with pi(a|s) = exp(theta[a*R+s]) / sum_a' exp(...)\n"
            "over one-hot observations. ID must be a tabular environment (GridWorld-4x4). R is\n"
            "the number count divided by the number of actions: either every state of the\n"
            "environment (16 for GridWorld-4x4), or fewer when the states left out are the last\n"
            "ones and absorbing: the study's tables (60 numbers, 4 actions x 15 states) give the\n"
            "15 non-terminal cells, and the terminal cell 15 gets a uniform row (theta 0), which\n"
            "is never used since no action is taken there.\n\n"
            "info prints the policy's type, algorithm, shapes, action bounds, head and network\n"
            "(MLP policies), parameter count, observation normaliser and configuration JSON.\n"
            "POLICY is a policy file or builtin:ENV/LEVEL.\n\n"
            "export --c writes one dependency-free C99 file (exact weights as static const\n"
            "arrays, the observation normaliser, <math.h> only, no allocation) defining\n"
            "void NAME_act(const float *obs, float *act): the policy's deterministic action, as\n"
            "orl eval's mean mode computes it (argmax for discrete policies, which also get\n"
            "int NAME_act_index(const float *obs)). NAME defaults to 'policy'. MLP and\n"
            "argmax-Q policies.\n\n"
            "export --onnx writes an ONNX model (opset 17) for ONNX runtimes: input \"obs\"\n"
            "(batch, S) float32, output \"action\" (batch, A) float32 (the same mean-mode action)\n"
            "or (batch) int64 (the greedy index of a discrete policy). Same policies.\n");
}

static int from_table(int argc, char **argv) {
    const char *table = NULL, *env_id = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--env") == 0 && i + 1 < argc) {
            env_id = argv[++i];
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (argv[i][0] == '-') {
            return cli_usage_error("policy", "unknown option '%s'", argv[i]);
        } else if (!table) {
            table = argv[i];
        } else {
            return cli_usage_error("policy", "one TABLE expected, got '%s' too", argv[i]);
        }
    }
    if (!table) return cli_usage_error("policy", "from-table: TABLE missing");
    if (!env_id) return cli_usage_error("policy", "from-table: --env ID missing");
    if (!out) return cli_usage_error("policy", "from-table: -o POLICY missing");
    orl_policy *p = NULL;
    int32_t rows = 0;
    orl_status st = orl_tabular_policy_from_file(table, env_id, &p, &rows);
    if (st == ORL_OK) st = orl_policy_save(p, out);
    if (st) {
        orl_policy_free(p);
        return cli_fail("policy", st);
    }
    printf("%s: tabular softmax policy for %s, %d states (%d from the table%s), %d actions\n", out,
           env_id, p->obs_dim, rows, rows < p->obs_dim ? ", the rest absorbing: uniform" : "",
           p->n_actions);
    orl_policy_free(p);
    return CLI_EXIT_OK;
}

static const char *activation_name(orl_activation a) {
    switch (a) {
    case ORL_ACTIVATION_NONE:
        return "none";
    case ORL_ACTIVATION_RELU:
        return "relu";
    case ORL_ACTIVATION_TANH:
        return "tanh";
    case ORL_ACTIVATION_ELU:
        return "elu";
    case ORL_ACTIVATION_SILU:
        return "silu";
    }
    return "?";
}

/* range of x (n) */
static void range(const float *x, int32_t n, double *lo, double *hi) {
    *lo = INFINITY;
    *hi = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
}

static int info(int argc, char **argv) {
    const char *name = NULL;
    int as_json = 0;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--json") == 0) {
            as_json = 1;
        } else if (argv[i][0] == '-') {
            return cli_usage_error("policy", "unknown option '%s'", argv[i]);
        } else if (!name) {
            name = argv[i];
        } else {
            return cli_usage_error("policy", "one POLICY expected, got '%s' too", argv[i]);
        }
    }
    if (!name) return cli_usage_error("policy", "info: POLICY missing");
    orl_policy *p = NULL;
    orl_status st = orl_policy_open(name, &p);
    if (st) return cli_fail("policy", st);

    const int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    const orl_policy_mlp_spec *spec = orl_policy_mlp_get_spec(p);
    int64_t n_params = -1;
    if (spec) {
        n_params = orl_policy_mlp_network(p)->n_params;
    } else if (orl_tabular_policy_is(p)) {
        n_params = (int64_t)p->obs_dim * p->n_actions;
    } else if (orl_behavior_is(p)) {
        n_params = 0;
    }
    /* BCQ: the networks it acts with */
    orl_policy_bcq_view bcq;
    orl_mlp *bq = NULL, *bi = NULL;
    if (orl_policy_bcq_views(p, &bcq))
        n_params = bcq.decoder->n_params + bcq.perturb->n_params + bcq.critic->n_params;
    else if (orl_policy_bcq_discrete_views(p, &bq, &bi, NULL))
        n_params = bq->n_params + bi->n_params;
    const orl_normalizer *nm = spec ? orl_policy_mlp_normalizer(p) : NULL;
    double mean_lo = NAN, mean_hi = NAN, std_lo = NAN, std_hi = NAN;
    if (nm && nm->dim > 0) {
        range(nm->mean, nm->dim, &mean_lo, &mean_hi);
        range(nm->std, nm->dim, &std_lo, &std_hi);
    }

    if (as_json) {
        json_t *j = json_object();
        json_object_set_new(j, "policy", json_string(name));
        json_object_set_new(j, "type", json_string(p->ops->type));
        json_object_set_new(j, "algorithm", json_string(p->algorithm));
        json_object_set_new(j, "obs_dim", json_integer(p->obs_dim));
        json_object_set_new(j, "act_dim", json_integer(p->act_dim));
        json_object_set_new(j, "action_kind", json_string(discrete ? "discrete" : "continuous"));
        json_object_set_new(j, "n_actions", json_integer(p->n_actions));
        json_object_set_new(j, "deterministic", json_boolean(p->deterministic));
        if (!discrete) {
            json_t *lo = json_array(), *hi = json_array();
            for (int32_t a = 0; a < p->act_dim; a++) {
                json_array_append_new(lo, orl_json_number(p->act_low[a]));
                json_array_append_new(hi, orl_json_number(p->act_high[a]));
            }
            json_object_set_new(j, "act_low", lo);
            json_object_set_new(j, "act_high", hi);
        }
        json_object_set_new(j, "parameters", n_params >= 0 ? json_integer(n_params) : json_null());
        if (spec) {
            json_object_set_new(j, "head", json_string(orl_policy_head_name(spec->head)));
            json_t *w = json_array();
            for (int32_t l = 0; l <= spec->mlp.n_layers; l++)
                json_array_append_new(w, json_integer(spec->mlp.widths[l]));
            json_object_set_new(j, "widths", w);
            json_object_set_new(j, "activation",
                                json_string(activation_name(spec->mlp.activation)));
            json_object_set_new(j, "layer_norm", json_boolean(spec->mlp.layer_norm));
            json_t *jn = json_object();
            json_object_set_new(jn, "dim", json_integer(nm ? nm->dim : 0));
            json_object_set_new(jn, "mean_min", orl_json_number(mean_lo));
            json_object_set_new(jn, "mean_max", orl_json_number(mean_hi));
            json_object_set_new(jn, "std_min", orl_json_number(std_lo));
            json_object_set_new(jn, "std_max", orl_json_number(std_hi));
            json_object_set_new(j, "obs_normalizer", jn);
        }
        json_error_t err;
        json_t *config = json_loads(p->config_json, 0, &err);
        json_object_set_new(j, "config", config ? config : json_string(p->config_json));
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
        printf("%s\n", text);
        free(text);
        json_decref(j);
        orl_policy_free(p);
        return CLI_EXIT_OK;
    }

    printf("%s\n", name);
    printf("  %-14s %s\n", "type", p->ops->type);
    printf("  %-14s %s\n", "algorithm", p->algorithm);
    printf("  %-14s obs_dim %d, act_dim %d, %s actions", "shapes", p->obs_dim, p->act_dim,
           discrete ? "discrete" : "continuous");
    if (discrete) printf(" (%d)", p->n_actions);
    printf("%s\n", p->deterministic ? ", deterministic" : ", stochastic");
    if (!discrete) {
        printf("  %-14s", "action bounds");
        for (int32_t a = 0; a < p->act_dim; a++)
            printf(" [%g, %g]", (double)p->act_low[a], (double)p->act_high[a]);
        printf("\n");
    }
    if (spec) {
        printf("  %-14s %s\n", "head", orl_policy_head_name(spec->head));
        printf("  %-14s", "network");
        for (int32_t l = 0; l <= spec->mlp.n_layers; l++)
            printf("%s%d", l ? " x " : " ", spec->mlp.widths[l]);
        printf(", %s%s\n", activation_name(spec->mlp.activation),
               spec->mlp.layer_norm ? ", layer norm" : "");
    }
    if (orl_tabular_policy_is(p))
        printf("  %-14s softmax over theta[a * %d + s], one-hot observations\n", "table",
               p->obs_dim);
    if (bcq.spec)
        printf("  %-14s %d candidates from the VAE decoder (latent %d), perturbation phi %g, "
               "best Q_1\n",
               "acting", bcq.spec->n_candidates, bcq.spec->latent_dim, (double)bcq.spec->phi);
    if (bq) printf("  %-14s greedy Q over the imitation network's likely actions\n", "acting");
    if (n_params >= 0) printf("  %-14s %lld\n", "parameters", (long long)n_params);
    if (nm && nm->dim > 0)
        printf("  %-14s dim %d, mean in [%.4g, %.4g], std in [%.4g, %.4g]\n", "obs normaliser",
               nm->dim, mean_lo, mean_hi, std_lo, std_hi);
    printf("  %-14s %s\n", "config", p->config_json);
    orl_policy_free(p);
    return CLI_EXIT_OK;
}

static int export_policy(int argc, char **argv) {
    const char *name = NULL, *out = NULL, *fn = "policy";
    int as_c = 0, as_onnx = 0;
    for (int i = 0; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(argv[i], "--c") == 0) {
            as_c = 1;
        } else if (strcmp(argv[i], "--onnx") == 0) {
            as_onnx = 1;
        } else if (strcmp(argv[i], "-o") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            fn = argv[++i];
        } else if (argv[i][0] == '-') {
            return cli_usage_error("policy", "unknown option '%s'", argv[i]);
        } else if (!name) {
            name = argv[i];
        } else {
            return cli_usage_error("policy", "one POLICY expected, got '%s' too", argv[i]);
        }
    }
    if (!name) return cli_usage_error("policy", "export: POLICY missing");
    if (as_c + as_onnx != 1)
        return cli_usage_error("policy", "export: one format is needed (--c or --onnx)");
    if (!out) return cli_usage_error("policy", "export: -o OUT missing");
    orl_policy *p = NULL;
    orl_status st = orl_policy_open(name, &p);
    if (st == ORL_OK) st = as_c ? orl_policy_export_c(p, fn, out) : orl_policy_export_onnx(p, out);
    if (st) {
        orl_policy_free(p);
        return cli_fail("policy", st);
    }
    if (as_c)
        printf("%s: %s_act for %s (%lld bytes)\n", out, fn, name, (long long)orl_fs_size(out));
    else
        printf("%s: ONNX model of %s (%lld bytes)\n", out, name, (long long)orl_fs_size(out));
    orl_policy_free(p);
    return CLI_EXIT_OK;
}

int cmd_policy(int argc, char **argv) {
    if (argc < 2) return cli_usage_error("policy", "from-table, info or export expected");
    if (cli_is_help(argv[1])) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "from-table") == 0) return from_table(argc - 2, argv + 2);
    if (strcmp(argv[1], "info") == 0) return info(argc - 2, argv + 2);
    if (strcmp(argv[1], "export") == 0) return export_policy(argc - 2, argv + 2);
    return cli_usage_error("policy", "unknown subcommand '%s' (from-table, info, export)", argv[1]);
}

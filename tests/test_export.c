/* policy/export.c: orl_policy_export_c. For every head (deterministic, Gaussian with finite and
 * NaN bounds, tanh-Gaussian, categorical), other activations with LayerNorm, and an argmax-Q
 * policy, the exported file compiles on its own with -std=c99 -Wall -Wextra -pedantic -Werror
 * (the project's C compiler), and its NAME_act on 10,000 observations equals orl_policy_act in
 * mean mode to 1e-6 (continuous) or exactly (discrete); names that are not C identifiers and
 * policies that cannot be exported fail without leaving a file. Scratch files go under
 * ORL_BINARY_DIR/tmp-export/. Every seed is named in its test. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void openblas_set_num_threads(int num_threads);

#define SCRATCH ORL_BINARY_DIR "/tmp-export"
#define N_OBS   10000
#define OBS_DIM 5

#include "tests/lsan_hdf5.h"

/* an MLP policy with random parameters and a random normaliser (seed) */
static orl_policy *make_mlp(orl_policy_head head, int32_t act_dim, int32_t n_actions,
                            orl_activation act, int layer_norm, const float *lo, const float *hi,
                            uint64_t seed) {
    orl_policy_mlp_spec spec;
    memset(&spec, 0, sizeof spec);
    int discrete = head == ORL_POLICY_HEAD_CATEGORICAL;
    spec.info.algorithm = "bc";
    spec.info.obs_dim = OBS_DIM;
    spec.info.act_dim = discrete ? 1 : act_dim;
    spec.info.action_kind = discrete ? ORL_ACTION_KIND_DISCRETE : ORL_ACTION_KIND_CONTINUOUS;
    spec.info.n_actions = discrete ? n_actions : 0;
    spec.info.act_low = lo;
    spec.info.act_high = hi;
    spec.head = head;
    spec.mlp.n_layers = 3;
    spec.mlp.widths[0] = OBS_DIM;
    spec.mlp.widths[1] = 32;
    spec.mlp.widths[2] = 24;
    spec.mlp.widths[3] = orl_policy_head_outputs(head, act_dim, n_actions);
    spec.mlp.activation = act;
    spec.mlp.layer_norm = layer_norm;
    spec.log_std_min = -5.0f;
    spec.log_std_max = 2.0f;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 0);
    float mean[OBS_DIM], std[OBS_DIM];
    for (int j = 0; j < OBS_DIM; j++) {
        mean[j] = (float)orl_rng_normal(&rng);
        std[j] = (float)(0.5 + orl_rng_uniform(&rng));
    }
    orl_normalizer nm = {OBS_DIM, mean, std};
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_mlp_create(&spec, &nm, NULL, &rng, &p), ORL_OK, "%s",
                 orl_error_message());
    return p;
}

/* exports p as NAME, compiles it with a driver, runs it on obs and returns the max |difference|
 * from orl_policy_act in mean mode (discrete: the number of different actions) */
static double compare(orl_policy *p, const char *name, uint64_t seed) {
    mkdir(SCRATCH, 0755);
    char src[512], drv[512], bin[512], in[512], out[512], cmd[4096];
    snprintf(src, sizeof src, SCRATCH "/%s.c", name);
    snprintf(drv, sizeof drv, SCRATCH "/%s_driver.c", name);
    snprintf(bin, sizeof bin, SCRATCH "/%s_driver", name);
    snprintf(in, sizeof in, SCRATCH "/%s.obs", name);
    snprintf(out, sizeof out, SCRATCH "/%s.act", name);
    cr_assert_eq(orl_policy_export_c(p, name, src), ORL_OK, "%s", orl_error_message());
    FILE *f = fopen(drv, "w");
    cr_assert_not_null(f);
    fprintf(f,
            "#include \"%s\"\n#include <stdio.h>\n"
            "int main(int argc, char **argv) {\n"
            "    FILE *in = fopen(argv[1], \"rb\"), *out = fopen(argv[2], \"wb\");\n"
            "    float obs[%s_OBS_DIM], act[%s_ACT_DIM];\n"
            "    if (!in || !out || argc != 3) return 2;\n"
            "    while (fread(obs, sizeof obs, 1, in) == 1) {\n"
            "        %s_act(obs, act);\n"
            "        fwrite(act, sizeof act, 1, out);\n"
            "    }\n"
            "    return fclose(out) != 0;\n"
            "}\n",
            src, name, name, name);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "%s -std=c99 -Wall -Wextra -pedantic -Werror -O2 -o %s %s -lm 2>" SCRATCH "/%s.log",
             ORL_C_COMPILER, bin, drv, name);
    cr_assert_eq(system(cmd), 0, "compiling the exported %s failed: see %s/%s.log", name, SCRATCH,
                 name);
    /* observations as the normaliser expects them (mean + std N(0, 1)) */
    float *obs = malloc(sizeof(float) * N_OBS * OBS_DIM);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 1);
    const orl_normalizer *nm = orl_policy_mlp_normalizer(p) ? orl_policy_mlp_normalizer(p)
                                                            : orl_policy_argmax_q_normalizer(p);
    for (int i = 0; i < N_OBS * OBS_DIM; i++)
        obs[i] = nm->mean[i % OBS_DIM] + nm->std[i % OBS_DIM] * (float)orl_rng_normal(&rng);
    f = fopen(in, "wb");
    cr_assert_eq(fwrite(obs, sizeof(float), N_OBS * OBS_DIM, f), (size_t)N_OBS * OBS_DIM);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s %s", bin, in, out);
    cr_assert_eq(system(cmd), 0, "running %s", bin);
    int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    int32_t A = p->act_dim;
    float *got = malloc(sizeof(float) * N_OBS * (size_t)A),
          *want = malloc(sizeof(float) * N_OBS * (size_t)A);
    int32_t *idx = malloc(sizeof(int32_t) * N_OBS);
    f = fopen(out, "rb");
    cr_assert_eq(fread(got, sizeof(float) * (size_t)A, N_OBS, f), (size_t)N_OBS);
    fclose(f);
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, 256, &w), ORL_OK);
    for (int i = 0; i < N_OBS; i += 256) {
        int b = N_OBS - i < 256 ? N_OBS - i : 256;
        cr_assert_eq(orl_policy_act(p, w, obs + (size_t)i * OBS_DIM, b, ORL_POLICY_MODE_MEAN, NULL,
                                    discrete ? NULL : want + (size_t)i * (size_t)A,
                                    discrete ? idx + i : NULL),
                     ORL_OK, "%s", orl_error_message());
    }
    double worst = 0.0;
    for (int i = 0; i < N_OBS; i++) {
        if (discrete) {
            worst += got[i] != (float)idx[i];
            continue;
        }
        for (int j = 0; j < A; j++) {
            double d = fabs((double)got[i * A + j] - (double)want[i * A + j]);
            if (d > worst) worst = d;
        }
    }
    orl_policy_work_free(w);
    free(obs);
    free(got);
    free(want);
    free(idx);
    return worst;
}

/* every head, other activations, LayerNorm, finite and NaN bounds */
static const float box_lo[2] = {-2.0f, -1.0f}, box_hi[2] = {2.0f, 0.5f};
static const float nlo[2] = {NAN, -1.0f}, nhi[2] = {NAN, 1.0f};
static const struct {
    const char *name;
    orl_policy_head head;
    orl_activation act;
    int ln;
    const float *lo, *hi;
} cases[] = {
    {"det_relu", ORL_POLICY_HEAD_DETERMINISTIC, ORL_ACTIVATION_RELU, 0, box_lo, box_hi},
    {"gauss_tanh_ln", ORL_POLICY_HEAD_GAUSSIAN, ORL_ACTIVATION_TANH, 1, nlo, nhi},
    {"tanh_gauss_elu", ORL_POLICY_HEAD_TANH_GAUSSIAN, ORL_ACTIVATION_ELU, 0, box_lo, box_hi},
    {"cat_silu_ln", ORL_POLICY_HEAD_CATEGORICAL, ORL_ACTIVATION_SILU, 1, NULL, NULL},
};

Test(export, every_head_matches_orl_policy_act) {
    openblas_set_num_threads(1);
    for (int k = 0; k < 4; k++) {
        orl_policy *p = make_mlp(cases[k].head, 2, 5, cases[k].act, cases[k].ln, cases[k].lo,
                                 cases[k].hi, 100 + (uint64_t)k); /* seeds 100..103 */
        double worst = compare(p, cases[k].name, 100 + (uint64_t)k);
        cr_log_info("%s: %s %g", cases[k].name,
                    p->action_kind == ORL_ACTION_KIND_DISCRETE ? "different actions"
                                                               : "max |difference|",
                    worst);
        if (p->action_kind == ORL_ACTION_KIND_DISCRETE)
            cr_assert_eq(worst, 0.0, "%s: %g of %d actions differ", cases[k].name, worst, N_OBS);
        else
            cr_assert_leq(worst, 1e-6, "%s: max |difference| %g", cases[k].name, worst);
        orl_policy_free(p);
    }
}

Test(export, argmax_q_exports_its_greedy_action) {
    openblas_set_num_threads(1);
    orl_policy_argmax_q_spec spec;
    memset(&spec, 0, sizeof spec);
    spec.info.algorithm = "cql";
    spec.info.obs_dim = OBS_DIM;
    spec.info.act_dim = 1;
    spec.info.action_kind = ORL_ACTION_KIND_DISCRETE;
    spec.info.n_actions = 4;
    spec.mlp.n_layers = 2;
    spec.mlp.widths[0] = OBS_DIM;
    spec.mlp.widths[1] = 16;
    spec.mlp.widths[2] = 4;
    spec.mlp.activation = ORL_ACTIVATION_RELU;
    spec.mode = ORL_ARGMAX_Q_MODE_EPSILON;
    spec.epsilon = 0.1f;
    spec.temperature = 1.0f;
    orl_rng rng;
    orl_rng_seed(&rng, 7, 0); /* seed 7 */
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_argmax_q_create(&spec, NULL, NULL, &rng, &p), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(compare(p, "qgreedy", 7), 0.0);
    orl_policy_free(p);
}

/* exports p as ONNX and has tests/onnx_check.py check the model and evaluate its graph with
 * NumPy on n observations, against orl_policy_act in mean mode */
static void compare_onnx(orl_policy *p, const char *name, uint64_t seed) {
    enum { N = 2000 };
    mkdir(SCRATCH, 0755);
    char model[512], in[512], out[512], cmd[4096];
    snprintf(model, sizeof model, SCRATCH "/%s.onnx", name);
    snprintf(in, sizeof in, SCRATCH "/%s.onnx-obs", name);
    snprintf(out, sizeof out, SCRATCH "/%s.onnx-want", name);
    cr_assert_eq(orl_policy_export_onnx(p, model), ORL_OK, "%s", orl_error_message());
    int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    size_t A = (size_t)p->act_dim;
    float *obs = malloc(sizeof(float) * N * OBS_DIM), *want = malloc(sizeof(float) * N * A);
    int32_t *idx = malloc(sizeof(int32_t) * N);
    orl_rng rng;
    orl_rng_seed(&rng, seed, 2);
    for (int i = 0; i < N * OBS_DIM; i++) obs[i] = 3.0f * (float)orl_rng_normal(&rng);
    orl_policy_work *w = NULL;
    cr_assert_eq(orl_policy_work_create(p, N, &w), ORL_OK);
    cr_assert_eq(orl_policy_act(p, w, obs, N, ORL_POLICY_MODE_MEAN, NULL, discrete ? NULL : want,
                                discrete ? idx : NULL),
                 ORL_OK, "%s", orl_error_message());
    FILE *f = fopen(in, "wb");
    cr_assert_eq(fwrite(obs, sizeof(float), N * OBS_DIM, f), (size_t)N * OBS_DIM);
    fclose(f);
    f = fopen(out, "wb");
    if (discrete)
        cr_assert_eq(fwrite(idx, sizeof(int32_t), N, f), (size_t)N);
    else
        cr_assert_eq(fwrite(want, sizeof(float), N * A, f), N * A);
    fclose(f);
    snprintf(cmd, sizeof cmd, "%s %s/tests/onnx_check.py %s %s %s %zu %s >%s/%s.onnx-log 2>&1",
             ORL_PYTHON, ORL_SOURCE_DIR, model, in, out, A, discrete ? "index" : "float", SCRATCH,
             name);
    cr_assert_eq(system(cmd), 0, "%s: the ONNX model fails its check or differs: see %s/%s.onnx-log",
                 name, SCRATCH, name);
    orl_policy_work_free(w);
    free(obs);
    free(want);
    free(idx);
}

Test(export, onnx_models_pass_the_checker_and_match_orl_policy_act) {
    openblas_set_num_threads(1);
    for (int k = 0; k < 4; k++) {
        orl_policy *p = make_mlp(cases[k].head, 2, 5, cases[k].act, cases[k].ln, cases[k].lo,
                                 cases[k].hi, 200 + (uint64_t)k); /* seeds 200..203 */
        char name[64];
        snprintf(name, sizeof name, "onnx_%s", cases[k].name);
        compare_onnx(p, name, 200 + (uint64_t)k);
        orl_policy_free(p);
    }
    orl_policy *p = NULL;
    cr_assert_eq(orl_policy_open("builtin:CartPole-v1/medium", &p), ORL_OK);
    cr_assert_eq(orl_policy_export_onnx(p, SCRATCH "/builtin.onnx"), ORL_ERR_UNSUPPORTED);
    cr_assert(strstr(orl_error_message(), "--onnx"), "%s", orl_error_message());
    cr_assert_eq(fopen(SCRATCH "/builtin.onnx", "r"), NULL, "no file is left");
    orl_policy_free(p);
}

Test(export, bad_names_and_types_fail_without_a_file) {
    mkdir(SCRATCH, 0755);
    const float lo[2] = {-1.0f, -1.0f}, hi[2] = {1.0f, 1.0f};
    orl_policy *p =
        make_mlp(ORL_POLICY_HEAD_DETERMINISTIC, 2, 0, ORL_ACTIVATION_RELU, 0, lo, hi, 9);
    const char *path = SCRATCH "/bad.c";
    remove(path);
    const char *bad[] = {"", "1abc", "has space", "a-b",
                         "x23456789012345678901234567890123456789"
                         "01234567890123456789012345"};
    for (int i = 0; i < 5; i++) {
        cr_assert_eq(orl_policy_export_c(p, bad[i], path), ORL_ERR_INPUT, "name '%s'", bad[i]);
        cr_assert(strstr(orl_error_message(), "C identifier"), "%s", orl_error_message());
    }
    orl_policy_free(p);
    cr_assert_eq(orl_policy_open("builtin:CartPole-v1/medium", &p), ORL_OK);
    cr_assert_eq(orl_policy_export_c(p, "builtin", path), ORL_ERR_UNSUPPORTED);
    cr_assert(strstr(orl_error_message(), "builtin"), "%s", orl_error_message());
    orl_policy_free(p);
    FILE *f = fopen(path, "r");
    cr_assert_null(f, "no file is left");
}

/* orl_policy_export_c (policy.h): a policy as one dependency-free C99 source file for a robot's
 * control loop. The file holds the weights as static const arrays (hexadecimal float literals,
 * so every parameter is exact), the observation normaliser and the head's deterministic action,
 * and a function NAME_act(obs, act) that computes what orl_policy_act gives in
 * ORL_POLICY_MODE_MEAN with float32 operations (each dot product in 8 interleaved partial sums,
 * which compilers vectorise without -ffast-math; orl's sgemm blocks its sums its own way, so the
 * two agree to rounding, not bit for bit). No
 * allocation, no HDF5, no BLAS: <math.h> only; the activations live on the caller's stack.
 * MLP policies (every head) and argmax-Q policies are exported; other types are refused. The
 * file is written under a temporary name and renamed when complete. */
#include "orl/fs.h"
#include "orl/policy.h"
#include "policy/export_internal.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

orl_status orl_export_view_of(orl_policy *p, const char *flag, orl_export_view *v) {
    memset(v, 0, sizeof *v);
    const orl_policy_mlp_spec *spec = orl_policy_mlp_get_spec(p);
    if (spec) {
        v->net = orl_policy_mlp_network(p);
        v->nm = orl_policy_mlp_normalizer(p);
        v->head = spec->head;
        v->type = "mlp";
    } else if (orl_policy_argmax_q_network(p)) {
        v->net = orl_policy_argmax_q_network(p);
        v->nm = orl_policy_argmax_q_normalizer(p);
        v->head = ORL_POLICY_HEAD_CATEGORICAL;
        v->type = "argmax_q";
    } else {
        ORL_FAIL(ORL_ERR_UNSUPPORTED,
                 "policy export %s: policy type '%s' of %s is not exported (MLP and argmax-Q "
                 "policies are)",
                 flag, p->ops->type, p->source[0] ? p->source : p->algorithm);
    }
    if (p->action_kind != ORL_ACTION_KIND_DISCRETE && v->head == ORL_POLICY_HEAD_DETERMINISTIC)
        for (int32_t j = 0; j < p->act_dim; j++)
            if (!isfinite(p->act_low[j]) || !isfinite(p->act_high[j]))
                ORL_FAIL(ORL_ERR_INPUT, "policy export %s: action %d has no finite bounds", flag,
                         j);
    return ORL_OK;
}

/* one float as an exact C99 hexadecimal literal */
static void put_float(FILE *f, float x) {
    if (isnan(x))
        fputs("NAN", f);
    else if (isinf(x))
        fputs(x > 0 ? "INFINITY" : "-INFINITY", f);
    else if (x == 0.0f)
        fputs(signbit(x) ? "-0.0f" : "0.0f", f);
    else
        fprintf(f, "%af", (double)x);
}

static void put_array(FILE *f, const char *name, const char *suffix, const float *x, int64_t n,
                      const char *shape) {
    fprintf(f, "static const float %s_%s[%lld] = { /* %s */\n", name, suffix, (long long)n, shape);
    for (int64_t i = 0; i < n; i++) {
        fputs(i % 6 == 0 ? "    " : " ", f);
        put_float(f, x[i]);
        fputc(',', f);
        if (i % 6 == 5 || i == n - 1) fputc('\n', f);
    }
    fputs("};\n", f);
}

static const char *activation_code(orl_activation a) {
    switch (a) {
    case ORL_ACTIVATION_RELU:
        return "y[o] = y[o] > 0.0f ? y[o] : 0.0f;";
    case ORL_ACTIVATION_TANH:
        return "y[o] = tanhf(y[o]);";
    case ORL_ACTIVATION_ELU:
        return "y[o] = y[o] > 0.0f ? y[o] : expm1f(y[o]);";
    case ORL_ACTIVATION_SILU:
        return "y[o] = y[o] / (1.0f + expf(-y[o]));";
    case ORL_ACTIVATION_NONE:
    default:
        return "";
    }
}

static orl_status write_source(FILE *f, const orl_policy *p, const orl_export_view *v,
                               const char *name) {
    const orl_mlp_config *cfg = &v->net->cfg;
    const int32_t L = cfg->n_layers, S = p->obs_dim, A = p->act_dim;
    const int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
    int32_t widest = 0;
    for (int32_t l = 0; l <= L; l++)
        if (cfg->widths[l] > widest) widest = cfg->widths[l];

    fprintf(f, "/* %s: policy exported by orl %s (orl policy export --c)", name, ORL_VERSION);
    if (p->source[0]) fprintf(f, " from %s", p->source);
    fprintf(f, ".\n * algorithm %s, type %s, head %s; network", p->algorithm, v->type,
            orl_policy_head_name(v->head));
    for (int32_t l = 0; l <= L; l++) fprintf(f, "%s%d", l ? "-" : " ", cfg->widths[l]);
    static const char *const act_names[] = {"no", "ReLU", "tanh", "ELU", "SiLU"};
    int ai = (int)cfg->activation;
    fprintf(f, ", %s activation%s.\n", ai >= 0 && ai <= 4 ? act_names[ai] : "?",
            cfg->layer_norm ? ", LayerNorm" : "");
    fprintf(f,
            " * void %s_act(const float *obs, float *act): obs (%d) -> the policy's deterministic\n"
            " * action, as orl_policy_act in mean mode: ",
            name, S);
    if (discrete)
        fprintf(f,
                "act[0] = the greedy action index (of %d);\n * int %s_act_index(const float "
                "*obs) returns it.\n",
                p->n_actions, name);
    else
        fprintf(f, "act (%d) within the action bounds.\n", A);
    fprintf(f, " * C99, <math.h> only, no allocation; %d floats of stack per call; reentrant. */\n",
            2 * widest);
    fprintf(f, "#include <math.h>\n\n#define %s_OBS_DIM %d\n#define %s_ACT_DIM %d\n\n", name, S,
            name, A);

    /* the observation normaliser: (obs - mean) / std */
    char shape[64];
    snprintf(shape, sizeof shape, "(%d)", S);
    put_array(f, name, "obs_mean", v->nm->mean, S, shape);
    put_array(f, name, "obs_std", v->nm->std, S, shape);
    for (int32_t l = 0; l < L; l++) {
        int32_t in = cfg->widths[l], out = cfg->widths[l + 1];
        char suffix[32];
        snprintf(shape, sizeof shape, "(%d, %d) layer %d's weight, row-major", out, in, l);
        snprintf(suffix, sizeof suffix, "w%d", l);
        put_array(f, name, suffix, v->net->w[l], (int64_t)out * in, shape);
        snprintf(shape, sizeof shape, "(%d)", out);
        snprintf(suffix, sizeof suffix, "b%d", l);
        put_array(f, name, suffix, v->net->b[l], out, shape);
        if (v->net->ln_gain[l]) {
            snprintf(suffix, sizeof suffix, "g%d", l);
            put_array(f, name, suffix, v->net->ln_gain[l], out, shape);
            snprintf(suffix, sizeof suffix, "s%d", l);
            put_array(f, name, suffix, v->net->ln_bias[l], out, shape);
        }
    }
    if (!discrete) {
        /* the head's box: centre and half-range in double, as heads.c computes them */
        snprintf(shape, sizeof shape, "(%d)", A);
        put_array(f, name, "act_low", p->act_low, A, shape);
        put_array(f, name, "act_high", p->act_high, A, shape);
    }

    /* the linear layer, the LayerNorm and the activation */
    fprintf(f,
            "\nstatic void %s_linear(const float *w, const float *b, const float *x, int in, int "
            "out,\n"
            "                        float *y) {\n"
            "    for (int o = 0; o < out; o++) {\n"
            "        const float *wo = w + o * in;\n"
            "        float s[8] = {0};\n"
            "        int i = 0;\n"
            "        for (; i + 8 <= in; i += 8)\n"
            "            for (int k = 0; k < 8; k++) s[k] += wo[i + k] * x[i + k];\n"
            "        for (; i < in; i++) s[0] += wo[i] * x[i];\n"
            "        y[o] = (((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]))) + "
            "b[o];\n"
            "    }\n"
            "}\n",
            name);
    if (cfg->layer_norm)
        fprintf(f,
                "\nstatic void %s_layer_norm(float *y, int n, const float *g, const float *s) {\n"
                "    float sum = 0.0f, var = 0.0f;\n"
                "    for (int o = 0; o < n; o++) sum += y[o];\n"
                "    float mu = sum / (float)n;\n"
                "    for (int o = 0; o < n; o++) var += (y[o] - mu) * (y[o] - mu);\n"
                "    float rs = 1.0f / sqrtf(var / (float)n + 1e-5f);\n"
                "    for (int o = 0; o < n; o++) y[o] = (y[o] - mu) * rs * g[o] + s[o];\n"
                "}\n",
                name);

    /* the network: two buffers of the widest layer, swapped layer by layer */
    fprintf(f,
            "\nstatic const float *%s_forward(const float *obs, float *a, float *c) {\n"
            "    for (int j = 0; j < %d; j++) a[j] = (obs[j] - %s_obs_mean[j]) / %s_obs_std[j];\n"
            "    float *x = a, *y = c, *t;\n",
            name, S, name, name);
    for (int32_t l = 0; l < L; l++) {
        int32_t in = cfg->widths[l], out = cfg->widths[l + 1];
        fprintf(f, "    %s_linear(%s_w%d, %s_b%d, x, %d, %d, y);\n", name, name, l, name, l, in,
                out);
        if (l < L - 1) {
            if (v->net->ln_gain[l])
                fprintf(f, "    %s_layer_norm(y, %d, %s_g%d, %s_s%d);\n", name, out, name, l, name,
                        l);
            const char *act = activation_code(cfg->activation);
            if (act[0]) fprintf(f, "    for (int o = 0; o < %d; o++) %s\n", out, act);
        }
        fprintf(f, "    t = x, x = y, y = t;\n");
    }
    fprintf(f, "    return x;\n}\n");

    /* the head */
    if (discrete) {
        fprintf(f,
                "\nint %s_act_index(const float *obs) {\n"
                "    float a[%d], c[%d];\n"
                "    const float *q = %s_forward(obs, a, c);\n"
                "    int best = 0;\n"
                "    for (int k = 1; k < %d; k++)\n"
                "        if (q[k] > q[best]) best = k;\n"
                "    return best;\n"
                "}\n\n"
                "void %s_act(const float *obs, float *act) {\n"
                "    act[0] = (float)%s_act_index(obs);\n"
                "}\n",
                name, widest, widest, name, p->n_actions, name, name);
        return ORL_OK;
    }
    fprintf(f,
            "\nvoid %s_act(const float *obs, float *act) {\n"
            "    float a[%d], c[%d];\n"
            "    const float *y = %s_forward(obs, a, c);\n"
            "    for (int j = 0; j < %d; j++) {\n",
            name, widest, widest, name, A);
    switch (v->head) {
    case ORL_POLICY_HEAD_DETERMINISTIC:
    case ORL_POLICY_HEAD_TANH_GAUSSIAN:
        /* c + s tanh(u): the deterministic head's u, the squashed Gaussian's mean */
        fprintf(
            f,
            "        double lo = %s_act_low[j], hi = %s_act_high[j];\n"
            "        act[j] = (float)(0.5 * (hi + lo) + 0.5 * (hi - lo) * tanh((double)y[j]));\n",
            name, name);
        break;
    case ORL_POLICY_HEAD_GAUSSIAN:
    default:
        /* the mean, clipped to the bounds where they are finite (NaN: unbounded) */
        fprintf(f,
                "        float x = y[j];\n"
                "        if (!isnan(%s_act_low[j])) {\n"
                "            if (x < %s_act_low[j]) x = %s_act_low[j];\n"
                "            if (x > %s_act_high[j]) x = %s_act_high[j];\n"
                "        }\n"
                "        act[j] = x;\n",
                name, name, name, name, name);
        break;
    }
    fprintf(f, "    }\n}\n");
    return ORL_OK;
}

orl_status orl_policy_export_c(orl_policy *p, const char *name, const char *path) {
    assert(p && name && path);
    size_t n = strlen(name);
    int ok = n >= 1 && n <= 64 && (isalpha((unsigned char)name[0]) || name[0] == '_');
    for (size_t i = 0; ok && i < n; i++) ok = isalnum((unsigned char)name[i]) || name[i] == '_';
    if (!ok)
        ORL_FAIL(ORL_ERR_INPUT,
                 "policy export --c: name '%s' is not a C identifier (letters, digits, _; "
                 "at most 64)",
                 name);
    orl_export_view v;
    ORL_TRY(orl_export_view_of(p, "--c", &v));
    char tmp[4096];
    ORL_TRY(orl_fs_temp_name(path, tmp, sizeof tmp));
    FILE *f = fopen(tmp, "w");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot create (%s)", path, strerror(errno));
    orl_status st = write_source(f, p, &v, name);
    int bad = ferror(f);
    if (fclose(f) != 0) bad = 1;
    if (st == ORL_OK && bad) st = orl_error_set(ORL_ERR_IO, "%s: write failed", path);
    if (st == ORL_OK) st = orl_fs_commit(tmp, path);
    if (st != ORL_OK) remove(tmp);
    return st;
}

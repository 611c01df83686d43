/* orl_policy_export_onnx (policy.h): a policy as an ONNX model (opset 17) for the ONNX runtimes
 * robots run. The graph computes what orl_policy_act gives in ORL_POLICY_MODE_MEAN:
 *
 *   obs (B, S) -> Sub mean -> Div std -> [Gemm (transB) -> LayerNormalization? -> activation]
 *   per hidden layer -> Gemm -> head -> action
 *
 * with the head: the deterministic and tanh-Gaussian heads' centre + half-range * tanh(u) on the
 * first A outputs; the Gaussian head's mean clipped to the finite bounds (Max, Min); the
 * categorical head and argmax-Q policies' ArgMax (int64 (B)). Activations are ONNX's Relu, Tanh,
 * Elu (alpha 1) and SiLU as x * Sigmoid(x). Weights are initializers in raw little-endian
 * float32, so every parameter is exact. The messages are ONNX's own schema (Debian's
 * libonnx-dev onnx.proto) compiled by protobuf-c at build time; no wire format is written by
 * hand. The file is written under a temporary name and renamed when complete. */
#include "orl/fs.h"
#include "orl/policy.h"
#include "policy/export_internal.h"

#include "onnx.pb-c.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OPSET      17
#define IR_VERSION 8 /* ONNX 1.12's */

/* every message and string of one model, freed together */
typedef struct arena {
    void **blocks;
    size_t n, cap;
    int failed;
} arena;

static void *arena_alloc(arena *a, size_t size) {
    if (a->failed) return NULL;
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 256;
        void **grown = realloc(a->blocks, cap * sizeof *grown);
        if (!grown) {
            a->failed = 1;
            return NULL;
        }
        a->blocks = grown;
        a->cap = cap;
    }
    void *p = calloc(1, size ? size : 1);
    if (!p) {
        a->failed = 1;
        return NULL;
    }
    a->blocks[a->n++] = p;
    return p;
}

static char *arena_text(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *arena_text(arena *a, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char *s = arena_alloc(a, strlen(buf) + 1);
    if (s) memcpy(s, buf, strlen(buf) + 1);
    return s;
}

static void arena_free(arena *a) {
    for (size_t i = 0; i < a->n; i++) free(a->blocks[i]);
    free(a->blocks);
}

/* the graph being built: nodes and initializers grow in fixed arrays sized for the largest
 * network (ORL_MLP_MAX_LAYERS layers of at most 4 nodes and 4 initializers, plus the rest) */
#define MAX_NODES 128
#define MAX_INITS 128

typedef struct builder {
    arena *a;
    Onnx__NodeProto *nodes[MAX_NODES];
    Onnx__TensorProto *inits[MAX_INITS];
    size_t n_nodes, n_inits;
    int n_values; /* names of intermediate values: v0, v1, ... */
} builder;

/* a float32 (or int64 when ints) initializer of the given shape */
static const char *add_init(builder *b, const char *name, const void *data, size_t n_elem,
                            int ints, const int64_t *dims, size_t n_dims) {
    Onnx__TensorProto *t = arena_alloc(b->a, sizeof *t);
    int64_t *d = arena_alloc(b->a, n_dims * sizeof *d);
    size_t bytes = n_elem * (ints ? sizeof(int64_t) : sizeof(float));
    uint8_t *raw = arena_alloc(b->a, bytes);
    if (!t || !d || !raw || b->n_inits == MAX_INITS) return NULL;
    onnx__tensor_proto__init(t);
    memcpy(d, dims, n_dims * sizeof *d);
    memcpy(raw, data, bytes); /* little-endian hosts: the raw layout ONNX asks for */
    t->n_dims = n_dims;
    t->dims = d;
    t->has_data_type = 1;
    t->data_type = ints ? ONNX__TENSOR_PROTO__DATA_TYPE__INT64 : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    t->name = arena_text(b->a, "%s", name);
    t->has_raw_data = 1;
    t->raw_data.len = bytes;
    t->raw_data.data = raw;
    b->inits[b->n_inits++] = t;
    return t->name;
}

static const char *add_vector(builder *b, const char *name, const float *x, int64_t n) {
    return add_init(b, name, x, (size_t)n, 0, &n, 1);
}

/* a node op_type(inputs) -> a new value (or out when given); attribute kinds 'i' or 'f' */
typedef struct attr {
    const char *name;
    char kind;
    int64_t i;
    float f;
} attr;

static const char *add_node(builder *b, const char *op, const char *const *in, size_t n_in,
                            const attr *attrs, size_t n_attrs, const char *out) {
    Onnx__NodeProto *node = arena_alloc(b->a, sizeof *node);
    char **ins = arena_alloc(b->a, n_in * sizeof *ins);
    char **outs = arena_alloc(b->a, sizeof *outs);
    Onnx__AttributeProto **as = arena_alloc(b->a, n_attrs * sizeof *as);
    if (!node || !ins || !outs || !as || b->n_nodes == MAX_NODES) return NULL;
    onnx__node_proto__init(node);
    for (size_t k = 0; k < n_in; k++)
        if (!in[k] || !(ins[k] = arena_text(b->a, "%s", in[k]))) return NULL;
    outs[0] = out ? arena_text(b->a, "%s", out) : arena_text(b->a, "v%d", b->n_values++);
    for (size_t k = 0; k < n_attrs; k++) {
        Onnx__AttributeProto *at = arena_alloc(b->a, sizeof *at);
        if (!at) return NULL;
        onnx__attribute_proto__init(at);
        at->name = arena_text(b->a, "%s", attrs[k].name);
        at->has_type = 1;
        if (attrs[k].kind == 'i') {
            at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
            at->has_i = 1;
            at->i = attrs[k].i;
        } else {
            at->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
            at->has_f = 1;
            at->f = attrs[k].f;
        }
        as[k] = at;
    }
    node->n_input = n_in;
    node->input = ins;
    node->n_output = 1;
    node->output = outs;
    node->op_type = arena_text(b->a, "%s", op);
    node->name = arena_text(b->a, "%s_%zu", op, b->n_nodes);
    node->n_attribute = n_attrs;
    node->attribute = as;
    b->nodes[b->n_nodes++] = node;
    return outs[0];
}

static const char *unary(builder *b, const char *op, const char *x) {
    return add_node(b, op, &x, 1, NULL, 0, NULL);
}

static const char *binary(builder *b, const char *op, const char *x, const char *y,
                          const char *out) {
    const char *in[2] = {x, y};
    return add_node(b, op, in, 2, NULL, 0, out);
}

/* a graph input or output: a tensor of elem_type, shape (batch, width) or (batch) when
 * width is 0 */
static Onnx__ValueInfoProto *value_info(arena *a, const char *name, int32_t elem_type,
                                        int64_t width) {
    Onnx__ValueInfoProto *v = arena_alloc(a, sizeof *v);
    Onnx__TypeProto *ty = arena_alloc(a, sizeof *ty);
    Onnx__TypeProto__Tensor *tt = arena_alloc(a, sizeof *tt);
    Onnx__TensorShapeProto *shape = arena_alloc(a, sizeof *shape);
    Onnx__TensorShapeProto__Dimension **dims = arena_alloc(a, 2 * sizeof *dims);
    Onnx__TensorShapeProto__Dimension *d0 = arena_alloc(a, sizeof *d0);
    Onnx__TensorShapeProto__Dimension *d1 = arena_alloc(a, sizeof *d1);
    if (!v || !ty || !tt || !shape || !dims || !d0 || !d1) return NULL;
    onnx__value_info_proto__init(v);
    onnx__type_proto__init(ty);
    onnx__type_proto__tensor__init(tt);
    onnx__tensor_shape_proto__init(shape);
    onnx__tensor_shape_proto__dimension__init(d0);
    onnx__tensor_shape_proto__dimension__init(d1);
    d0->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
    d0->dim_param = arena_text(a, "batch");
    d1->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
    d1->dim_value = width;
    dims[0] = d0;
    dims[1] = d1;
    shape->n_dim = width > 0 ? 2 : 1;
    shape->dim = dims;
    tt->has_elem_type = 1;
    tt->elem_type = elem_type;
    tt->shape = shape;
    ty->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    ty->tensor_type = tt;
    v->name = arena_text(a, "%s", name);
    v->type = ty;
    return v;
}

static const char *activation(builder *b, orl_activation act, const char *x) {
    switch (act) {
    case ORL_ACTIVATION_RELU:
        return unary(b, "Relu", x);
    case ORL_ACTIVATION_TANH:
        return unary(b, "Tanh", x);
    case ORL_ACTIVATION_ELU: {
        attr alpha = {"alpha", 'f', 0, 1.0f};
        return add_node(b, "Elu", &x, 1, &alpha, 1, NULL);
    }
    case ORL_ACTIVATION_SILU:
        return binary(b, "Mul", x, unary(b, "Sigmoid", x), NULL);
    case ORL_ACTIVATION_NONE:
    default:
        return x;
    }
}

/* the network from the normalised observation to the last layer's outputs */
static const char *network(builder *b, const orl_policy *p, const orl_export_view *v) {
    const orl_mlp_config *cfg = &v->net->cfg;
    int64_t S = p->obs_dim;
    const char *x = binary(b, "Sub", "obs", add_vector(b, "obs_mean", v->nm->mean, S), NULL);
    x = binary(b, "Div", x, add_vector(b, "obs_std", v->nm->std, S), NULL);
    for (int32_t l = 0; l < cfg->n_layers; l++) {
        int64_t in = cfg->widths[l], out = cfg->widths[l + 1], wd[2] = {out, in};
        char name[32];
        snprintf(name, sizeof name, "w%d", l);
        const char *w = add_init(b, name, v->net->w[l], (size_t)(out * in), 0, wd, 2);
        snprintf(name, sizeof name, "b%d", l);
        const char *bias = add_vector(b, name, v->net->b[l], out);
        const char *in3[3] = {x, w, bias};
        attr trans = {"transB", 'i', 1, 0.0f};
        x = add_node(b, "Gemm", in3, 3, &trans, 1, NULL);
        if (l == cfg->n_layers - 1) break;
        if (v->net->ln_gain[l]) {
            snprintf(name, sizeof name, "ln_gain%d", l);
            const char *g = add_vector(b, name, v->net->ln_gain[l], out);
            snprintf(name, sizeof name, "ln_bias%d", l);
            const char *s = add_vector(b, name, v->net->ln_bias[l], out);
            const char *ln_in[3] = {x, g, s};
            attr ln[2] = {{"axis", 'i', -1, 0.0f}, {"epsilon", 'f', 0, 1e-5f}};
            x = add_node(b, "LayerNormalization", ln_in, 3, ln, 2, NULL);
        }
        x = activation(b, cfg->activation, x);
    }
    return x;
}

/* the head: ArgMax, or the first A outputs squashed into the box or clipped to it */
static orl_status head(builder *b, const orl_policy *p, const orl_export_view *v, const char *y) {
    const int64_t A = p->act_dim, width = v->net->cfg.widths[v->net->cfg.n_layers];
    if (p->action_kind == ORL_ACTION_KIND_DISCRETE) {
        attr am[2] = {{"axis", 'i', 1, 0.0f}, {"keepdims", 'i', 0, 0.0f}};
        if (!add_node(b, "ArgMax", &y, 1, am, 2, "action"))
            ORL_FAIL(ORL_ERR_NOMEM, "policy export --onnx: graph");
        return ORL_OK;
    }
    if (width > A) { /* Gaussian heads: mean first, then the log-stds */
        int64_t zero = 0, end = A, axis = 1, one = 1;
        const char *sl[4] = {y, add_init(b, "slice_start", &zero, 1, 1, &one, 1),
                             add_init(b, "slice_end", &end, 1, 1, &one, 1),
                             add_init(b, "slice_axis", &axis, 1, 1, &one, 1)};
        y = add_node(b, "Slice", sl, 4, NULL, 0, NULL);
    }
    float *c = arena_alloc(b->a, (size_t)A * sizeof *c), *h = arena_alloc(b->a, (size_t)A * sizeof *h);
    if (!c || !h) ORL_FAIL(ORL_ERR_NOMEM, "policy export --onnx: graph");
    if (v->head == ORL_POLICY_HEAD_GAUSSIAN) {
        /* the mean, clipped where the bounds are finite (NaN: unbounded) */
        for (int64_t j = 0; j < A; j++) {
            int known = !isnan(p->act_low[j]);
            c[j] = known ? p->act_low[j] : -INFINITY;
            h[j] = known ? p->act_high[j] : INFINITY;
        }
        y = binary(b, "Max", y, add_vector(b, "act_low", c, A), NULL);
        y = binary(b, "Min", y, add_vector(b, "act_high", h, A), "action");
    } else {
        /* centre + half-range * tanh(u), centre and half-range rounded from double */
        for (int64_t j = 0; j < A; j++) {
            double lo = p->act_low[j], hi = p->act_high[j];
            c[j] = (float)(0.5 * (hi + lo));
            h[j] = (float)(0.5 * (hi - lo));
        }
        y = binary(b, "Mul", unary(b, "Tanh", y), add_vector(b, "act_half_range", h, A), NULL);
        y = binary(b, "Add", y, add_vector(b, "act_centre", c, A), "action");
    }
    if (!y) ORL_FAIL(ORL_ERR_NOMEM, "policy export --onnx: graph");
    return ORL_OK;
}

static Onnx__StringStringEntryProto *entry(arena *a, const char *key, const char *value) {
    Onnx__StringStringEntryProto *e = arena_alloc(a, sizeof *e);
    if (!e) return NULL;
    onnx__string_string_entry_proto__init(e);
    e->key = arena_text(a, "%s", key);
    e->value = arena_text(a, "%s", value);
    return e;
}

/* the whole model in *buf (malloc'd), *len bytes */
static orl_status build_model(const orl_policy *p, const orl_export_view *v, uint8_t **buf,
                              size_t *len) {
    arena a = {0};
    builder *b = calloc(1, sizeof *b);
    if (!b) ORL_FAIL(ORL_ERR_NOMEM, "policy export --onnx: graph");
    b->a = &a;
    const char *y = network(b, p, v);
    orl_status st = y ? head(b, p, v, y) : orl_error_set(ORL_ERR_NOMEM, "policy export --onnx");
    Onnx__GraphProto graph = ONNX__GRAPH_PROTO__INIT;
    Onnx__ModelProto model = ONNX__MODEL_PROTO__INIT;
    Onnx__OperatorSetIdProto opset = ONNX__OPERATOR_SET_ID_PROTO__INIT;
    Onnx__OperatorSetIdProto *opsets[1] = {&opset};
    Onnx__ValueInfoProto *in[1], *out[1];
    Onnx__StringStringEntryProto *meta[4];
    if (st == ORL_OK) {
        int discrete = p->action_kind == ORL_ACTION_KIND_DISCRETE;
        char dims[64];
        snprintf(dims, sizeof dims, "%d", p->obs_dim);
        in[0] = value_info(&a, "obs", ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT, p->obs_dim);
        out[0] = value_info(&a, "action",
                            discrete ? ONNX__TENSOR_PROTO__DATA_TYPE__INT64
                                     : ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT,
                            discrete ? 0 : p->act_dim);
        meta[0] = entry(&a, "algorithm", p->algorithm);
        meta[1] = entry(&a, "policy_type", v->type);
        meta[2] = entry(&a, "head", orl_policy_head_name(v->head));
        meta[3] = entry(&a, "source", p->source);
        graph.name = arena_text(&a, "orl_%s_policy", p->algorithm);
        graph.doc_string = arena_text(
            &a, "%s: obs (batch, %d) float32 -> action %s, as orl_policy_act in mean mode",
            p->source[0] ? p->source : p->algorithm, p->obs_dim,
            discrete ? "(batch) int64, the greedy index" : "(batch, A) float32");
        if (a.failed || !in[0] || !out[0]) st = orl_error_set(ORL_ERR_NOMEM, "policy export --onnx");
    }
    if (st == ORL_OK) {
        graph.n_node = b->n_nodes;
        graph.node = b->nodes;
        graph.n_initializer = b->n_inits;
        graph.initializer = b->inits;
        graph.n_input = 1;
        graph.input = in;
        graph.n_output = 1;
        graph.output = out;
        opset.domain = "";
        opset.has_version = 1;
        opset.version = OPSET;
        model.has_ir_version = 1;
        model.ir_version = IR_VERSION;
        model.n_opset_import = 1;
        model.opset_import = opsets;
        model.producer_name = "orl";
        model.producer_version = ORL_VERSION;
        model.graph = &graph;
        model.n_metadata_props = 4;
        model.metadata_props = meta;
        *len = onnx__model_proto__get_packed_size(&model);
        *buf = malloc(*len ? *len : 1);
        if (!*buf)
            st = orl_error_set(ORL_ERR_NOMEM, "policy export --onnx: %zu bytes", *len);
        else
            onnx__model_proto__pack(&model, *buf);
    }
    free(b);
    arena_free(&a);
    return st;
}

orl_status orl_policy_export_onnx(orl_policy *p, const char *path) {
    assert(p && path);
    orl_export_view v;
    ORL_TRY(orl_export_view_of(p, "--onnx", &v));
    uint8_t *buf = NULL;
    size_t len = 0;
    ORL_TRY(build_model(p, &v, &buf, &len));
    char tmp[4096];
    orl_status st = orl_fs_temp_name(path, tmp, sizeof tmp);
    FILE *f = st ? NULL : fopen(tmp, "wb");
    if (!st && !f) st = orl_error_set(ORL_ERR_IO, "%s: cannot create (%s)", path, strerror(errno));
    if (f) {
        int bad = fwrite(buf, 1, len, f) != len;
        if (fclose(f) != 0) bad = 1;
        if (bad) st = orl_error_set(ORL_ERR_IO, "%s: write failed", path);
        if (st == ORL_OK) st = orl_fs_commit(tmp, path);
        if (st != ORL_OK) remove(tmp);
    }
    free(buf);
    return st;
}

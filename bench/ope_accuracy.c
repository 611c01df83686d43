/* bench/ope_accuracy: the mean squared error of the importance-sampling estimators on
 * GridWorld-4x4 with the regression-importance-sampling study's softmax policies p1 and p2
 * (tests/fixtures/ris-gridworld), in both directions (behaviour p1, evaluation p2 and the
 * reverse), against the exact value by dynamic programming (tabular.h).
 *
 * For each batch size (trajectories per dataset) and trial, a dataset is drawn from the
 * behaviour policy (seed = trial index, stream = batch size), and IS, WIS, PDIS, WPDIS are
 * computed with the true behaviour probabilities and with the RIS(0) and RIS(1) estimates
 * (counts over the same data), and DR / WDR (fqe.h) on tabular finite-horizon FQE of the same
 * data, with the true and the RIS(0) behaviour. Prints a Markdown table per direction and one JSON
 * line per cell. Usage: ope_accuracy [TRIALS (default 200)] [FIXTURES_DIR (default the source
 * tree's tests/fixtures, compiled in as ORL_FIXTURES_DIR)]. */
#include "orl/dataset.h"
#include "orl/fqe.h"
#include "orl/ope.h"
#include "orl/rng.h"
#include "orl/tabular.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENV_ID  "GridWorld-4x4"
#define N_ROWS  15                            /* the fixtures' non-terminal states */
#define N_FORMS 3                             /* true behaviour, RIS(0), RIS(1) */
#define N_EST   (ORL_OPE_ESTIMATOR_COUNT + 2) /* + dr, wdr */

static const int batch_sizes[] = {10, 20, 50, 100, 200, 500, 1000};
#define N_BATCH ((int)(sizeof batch_sizes / sizeof batch_sizes[0]))

typedef struct episodes {
    int64_t cap_steps, n_steps, n_episodes;
    int32_t *state;  /* (N) */
    int32_t *act;    /* (N) */
    double *rew;     /* (N) */
    int64_t *ep_off; /* (E+1) */
} episodes;

/* draws E episodes of the behaviour table pb (rows, 4) on the model */
static int simulate(const orl_tabular_model *m, const double *pb, int64_t E, orl_rng *rng,
                    episodes *out) {
    out->n_steps = 0;
    out->n_episodes = E;
    out->ep_off[0] = 0;
    for (int64_t e = 0; e < E; e++) {
        int32_t s = m->start;
        for (int32_t t = 0; t < m->max_episode_steps; t++) {
            if (out->n_steps == out->cap_steps) {
                int64_t cap = out->cap_steps * 2;
                int32_t *st = realloc(out->state, (size_t)cap * sizeof *st);
                if (!st) return -1;
                out->state = st;
                int32_t *ac = realloc(out->act, (size_t)cap * sizeof *ac);
                if (!ac) return -1;
                out->act = ac;
                double *rw = realloc(out->rew, (size_t)cap * sizeof *rw);
                if (!rw) return -1;
                out->rew = rw;
                out->cap_steps = cap;
            }
            int32_t a = orl_rng_categorical(rng, pb + (size_t)s * 4, 4);
            int64_t n = out->n_steps++;
            out->state[n] = s;
            out->act[n] = a;
            out->rew[n] = m->reward[s * m->n_actions + a];
            int ends = m->ends[s * m->n_actions + a];
            s = m->next[s * m->n_actions + a];
            if (ends || m->absorbing[s]) break;
        }
        out->ep_off[e + 1] = out->n_steps;
    }
    return 0;
}

static const char *column_name(int k) {
    return k < ORL_OPE_ESTIMATOR_COUNT ? orl_ope_estimator_name((orl_ope_estimator)k)
                                       : (k == ORL_OPE_ESTIMATOR_COUNT ? "dr" : "wdr");
}

/* the episodes as a one-hot dataset (for tabular FQE), ds created with room for them */
static orl_dataset *one_hot_dataset(const orl_tabular_model *m, const episodes *ep) {
    orl_header h;
    if (orl_header_init(&h, 16, 1, ORL_ACTION_KIND_DISCRETE, 4) != ORL_OK) return NULL;
    orl_dataset *ds = NULL;
    orl_status st = orl_dataset_create(&h, ep->n_steps, ep->n_episodes, &ds);
    orl_header_free(&h);
    if (st != ORL_OK) return NULL;
    for (int64_t e = 0; e < ep->n_episodes; e++)
        for (int64_t t = ep->ep_off[e]; t < ep->ep_off[e + 1]; t++) {
            int32_t s = ep->state[t], a = ep->act[t];
            memset(ds->obs + t * 16, 0, 16 * sizeof(float));
            memset(ds->next_obs + t * 16, 0, 16 * sizeof(float));
            ds->obs[t * 16 + s] = 1.0f;
            ds->next_obs[t * 16 + m->next[s * 4 + a]] = 1.0f;
            ds->act_idx[t] = a;
            ds->rew[t] = (float)ep->rew[t];
            int last = t == ep->ep_off[e + 1] - 1;
            ds->terminal[t] = (uint8_t)(last && m->ends[s * 4 + a]);
            ds->timeout[t] = (uint8_t)(last && !m->ends[s * 4 + a]);
            ds->logp_b[t] = NAN;
        }
    ds->n_steps = ep->n_steps;
    if (orl_dataset_index(ds) != ORL_OK) {
        orl_dataset_free(ds);
        return NULL;
    }
    return ds;
}

int main(int argc, char **argv) {
    int trials = argc > 1 ? atoi(argv[1]) : 200;
    const char *dir = argc > 2 ? argv[2] : ORL_FIXTURES_DIR;
    if (trials < 2) trials = 2;
    char path[2][1024];
    double probs[2][16 * 4];
    for (int k = 0; k < 2; k++) {
        snprintf(path[k], sizeof path[k], "%s/ris-gridworld/p%d.txt", dir, k + 1);
        if (orl_tabular_softmax_from_file(path[k], N_ROWS, 4, probs[k]) != ORL_OK) {
            fprintf(stderr, "ope_accuracy: %s\n", orl_error_message());
            return 2;
        }
        for (int a = 0; a < 4; a++) probs[k][N_ROWS * 4 + a] = 0.25; /* the terminal cell */
    }
    orl_tabular_model model;
    if (orl_tabular_model_get(ENV_ID, &model) != ORL_OK) return 2;
    double truth[2];
    for (int k = 0; k < 2; k++)
        if (orl_tabular_table_value(ENV_ID, probs[k], N_ROWS, 1.0, 0, &truth[k]) != ORL_OK) {
            fprintf(stderr, "ope_accuracy: %s\n", orl_error_message());
            return 2;
        }

    episodes ep = {0};
    ep.cap_steps = 1 << 16;
    ep.state = malloc((size_t)ep.cap_steps * sizeof *ep.state);
    ep.act = malloc((size_t)ep.cap_steps * sizeof *ep.act);
    ep.rew = malloc((size_t)ep.cap_steps * sizeof *ep.rew);
    ep.ep_off = malloc((size_t)(batch_sizes[N_BATCH - 1] + 1) * sizeof *ep.ep_off);
    if (!ep.state || !ep.act || !ep.rew || !ep.ep_off) return 2;

    static const char *const form_names[N_FORMS] = {"", "ris-", "ris1-"};
    for (int dirn = 0; dirn < 2; dirn++) {
        const double *pb = probs[dirn], *pe = probs[1 - dirn];
        double v_true = truth[1 - dirn];
        printf("\n### behaviour p%d, evaluation p%d (true value %.6f by DP, %d trials)\n\n",
               dirn + 1, 2 - dirn, v_true, trials);
        printf("| batch |");
        for (int f = 0; f < N_FORMS; f++)
            for (int k = 0; k < N_EST; k++) printf(" %s%s |", form_names[f], column_name(k));
        printf("\n|---|");
        for (int i = 0; i < N_FORMS * N_EST; i++) printf("---|");
        printf("\n");
        for (int bi = 0; bi < N_BATCH; bi++) {
            int64_t E = batch_sizes[bi];
            double sq[N_FORMS][N_EST] = {{0}}, bias[N_FORMS][N_EST] = {{0}};
            for (int trial = 0; trial < trials; trial++) {
                orl_rng rng;
                orl_rng_seed(&rng, (uint64_t)trial, (uint64_t)(E * 2 + dirn));
                if (simulate(&model, pb, E, &rng, &ep) != 0) return 2;
                orl_ope_ratios *r = NULL;
                if (orl_ope_ratios_create(ep.n_steps, E, &r) != ORL_OK) return 2;
                memcpy(r->ep_off, ep.ep_off, (size_t)(E + 1) * sizeof *r->ep_off);
                memcpy(r->rew, ep.rew, (size_t)ep.n_steps * sizeof *r->rew);
                /* tabular FQE of the evaluation policy on this data, for DR and WDR */
                orl_dataset *ds = one_hot_dataset(&model, &ep);
                orl_fqe_tabular_config fcfg = {.gamma = 1.0, .horizon = model.max_episode_steps};
                orl_fqe_result fqe;
                memset(&fqe, 0, sizeof fqe);
                if (!ds || orl_fqe_tabular(ds, pe, 16, 4, &fcfg, &fqe) != ORL_OK) {
                    fprintf(stderr, "ope_accuracy: FQE: %s\n", orl_error_message());
                    return 2;
                }
                for (int f = 0; f < N_FORMS; f++) {
                    if (f == 0) {
                        for (int64_t t = 0; t < ep.n_steps; t++)
                            r->log_pi_b[t] = log(pb[ep.state[t] * 4 + ep.act[t]]);
                    } else if (orl_ope_ris_tabular(ep.state, ep.act, ep.ep_off, E, 4, f - 1, NULL,
                                                   0.0, r->log_pi_b) != ORL_OK) {
                        fprintf(stderr, "ope_accuracy: %s\n", orl_error_message());
                        return 2;
                    }
                    for (int64_t t = 0; t < ep.n_steps; t++)
                        r->log_ratio[t] = log(pe[ep.state[t] * 4 + ep.act[t]]) - r->log_pi_b[t];
                    orl_dr_estimate dr;
                    memset(&dr, 0, sizeof dr);
                    if (orl_dr_compute_from(r->log_ratio, r->rew, fqe.q, fqe.v, r->ep_off, E, NULL,
                                            &dr) != ORL_OK) {
                        fprintf(stderr, "ope_accuracy: DR: %s\n", orl_error_message());
                        return 2;
                    }
                    double e_dr = dr.dr - v_true, e_wdr = dr.wdr - v_true;
                    sq[f][N_EST - 2] += e_dr * e_dr;
                    bias[f][N_EST - 2] += e_dr;
                    sq[f][N_EST - 1] += e_wdr * e_wdr;
                    bias[f][N_EST - 1] += e_wdr;
                    orl_dr_estimate_free(&dr);
                    for (int k = 0; k < ORL_OPE_ESTIMATOR_COUNT; k++) {
                        orl_ope_estimate est;
                        if (orl_ope_estimate_compute(r, (orl_ope_estimator)k, NULL, &est) !=
                            ORL_OK) {
                            fprintf(stderr, "ope_accuracy: %s\n", orl_error_message());
                            return 2;
                        }
                        double err = est.value - v_true;
                        sq[f][k] += err * err;
                        bias[f][k] += err;
                    }
                }
                orl_ope_ratios_free(r);
                orl_fqe_result_free(&fqe);
                orl_dataset_free(ds);
            }
            printf("| %lld |", (long long)E);
            for (int f = 0; f < N_FORMS; f++)
                for (int k = 0; k < N_EST; k++) printf(" %.4g |", sq[f][k] / trials);
            printf("\n");
            for (int f = 0; f < N_FORMS; f++)
                for (int k = 0; k < N_EST; k++)
                    fprintf(stderr,
                            "{\"bench\":\"ope_accuracy\",\"behavior\":\"p%d\",\"evaluation\":"
                            "\"p%d\",\"estimator\":\"%s%s\",\"batch\":%lld,\"trials\":%d,"
                            "\"mse\":%.6g,\"bias\":%.6g,\"truth\":%.9g}\n",
                            dirn + 1, 2 - dirn, form_names[f], column_name(k), (long long)E, trials,
                            sq[f][k] / trials, bias[f][k] / trials, v_true);
        }
    }
    free(ep.state);
    free(ep.act);
    free(ep.rew);
    free(ep.ep_off);
    return 0;
}

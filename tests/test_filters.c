/* Tests of filters/: returns-to-go against hand-computed values (terminal vs timeout), top-K%
 * selection (rounding, ties, discounting), minimum return, SQL predicates (the right episodes;
 * hostile predicates neither modify nor crash, input files keep their bytes), AWR targets and
 * weights in closed form, value regression, the normalizer, IQL's reward scale, the seeded
 * episode split, and `orl filter` end to end. Scratch files live under
 * ORL_BINARY_DIR/tmp-filters/. */
#include "orl/orl.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define SCRATCH ORL_BINARY_DIR "/tmp-filters"
#define ORL     ORL_BINARY_DIR "/orl"

/* ---- fixtures ---- */

/* episodes of the given lengths; rewards from rew (concatenated, may be NULL: 1 each);
 * episode e ends terminal when term[e], else timeout. obs = (e, t), next_obs = (e, t + 1). */
static orl_dataset *make(const int *lengths, int n_eps, const float *rew, const int *term) {
    orl_header h;
    cr_assert_eq(orl_header_init(&h, 2, 1, ORL_ACTION_KIND_CONTINUOUS, 0), ORL_OK);
    snprintf(h.env_id, sizeof h.env_id, "Test-v0");
    snprintf(h.behavior, sizeof h.behavior, "medium");
    snprintf(h.source, sizeof h.source, "test_filters");
    h.discount = 0.99;
    int total = 0;
    for (int e = 0; e < n_eps; e++) total += lengths[e];
    orl_dataset *ds;
    cr_assert_eq(orl_dataset_create(&h, total, n_eps, &ds), ORL_OK);
    orl_header_free(&h);
    int k = 0;
    for (int e = 0; e < n_eps; e++)
        for (int t = 0; t < lengths[e]; t++, k++) {
            ds->obs[2 * k] = (float)e;
            ds->obs[2 * k + 1] = (float)t;
            ds->next_obs[2 * k] = (float)e;
            ds->next_obs[2 * k + 1] = (float)(t + 1);
            ds->act[k] = 0.1f * (float)t;
            ds->rew[k] = rew ? rew[k] : 1.0f;
            ds->logp_b[k] = NAN;
            int last = t == lengths[e] - 1;
            ds->terminal[k] = (uint8_t)(last && term[e]);
            ds->timeout[k] = (uint8_t)(last && !term[e]);
        }
    ds->n_steps = total;
    cr_assert_eq(orl_dataset_index(ds), ORL_OK);
    cr_assert_eq(ds->n_episodes, n_eps);
    cr_assert_eq(orl_dataset_validate(ds), ORL_OK, "%s", orl_error_message());
    return ds;
}

/* one-step episodes with the given returns, all terminal */
static orl_dataset *make_returns(const float *returns, int n_eps) {
    int *lengths = malloc((size_t)n_eps * sizeof(int));
    int *term = malloc((size_t)n_eps * sizeof(int));
    for (int e = 0; e < n_eps; e++) lengths[e] = 1, term[e] = 1;
    orl_dataset *ds = make(lengths, n_eps, returns, term);
    free(lengths);
    free(term);
    return ds;
}

static void scratch(const char *name, char *path, size_t cap) {
    mkdir(SCRATCH, 0755);
    snprintf(path, cap, "%s/%s", SCRATCH, name);
    orl_fs_remove(path);
}

static int run(const char *cmd) {
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* the bytes of a file (malloc'd), *size set; NULL if missing */
static unsigned char *slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)*size + 1);
    cr_assert_eq(fread(buf, 1, (size_t)*size, f), (size_t)*size);
    fclose(f);
    return buf;
}

/* 1 if every column of a and b is bitwise equal */
static int same_data(const orl_dataset *a, const orl_dataset *b) {
    if (a->n_steps != b->n_steps || a->n_episodes != b->n_episodes) return 0;
    size_t n = (size_t)a->n_steps, s = (size_t)a->h.obs_dim;
    return memcmp(a->obs, b->obs, n * s * sizeof(float)) == 0 &&
           memcmp(a->next_obs, b->next_obs, n * s * sizeof(float)) == 0 &&
           memcmp(a->rew, b->rew, n * sizeof(float)) == 0 &&
           memcmp(a->terminal, b->terminal, n) == 0 && memcmp(a->timeout, b->timeout, n) == 0 &&
           memcmp(a->ep_off, b->ep_off, (size_t)(a->n_episodes + 1) * sizeof(int64_t)) == 0;
}

/* ---- returns ---- */

Test(returns, to_go_by_hand_terminal_vs_timeout) {
    /* episode 0: terminal, rewards 1 2 3; episode 1: timeout, rewards 1 1 */
    int lengths[] = {3, 2}, term[] = {1, 0};
    float rew[] = {1, 2, 3, 1, 1};
    orl_dataset *ds = make(lengths, 2, rew, term);
    double rtg[5];
    cr_assert_eq(orl_returns_to_go(ds, 0.5, NULL, rtg), ORL_OK);
    double want[] = {2.75, 3.5, 3.0, 1.5, 1.0};
    for (int t = 0; t < 5; t++) cr_assert_float_eq(rtg[t], want[t], 1e-12, "t=%d", t);

    /* with a bootstrap value of 10 for every next state: only the timeout episode uses it */
    double v_next[] = {10, 10, 10, 10, 10};
    cr_assert_eq(orl_returns_to_go(ds, 0.5, v_next, rtg), ORL_OK);
    double want_boot[] = {2.75, 3.5, 3.0, 1.0 + 0.5 * 6.0, 1.0 + 0.5 * 10.0};
    for (int t = 0; t < 5; t++) cr_assert_float_eq(rtg[t], want_boot[t], 1e-12, "t=%d", t);

    /* undiscounted */
    cr_assert_eq(orl_returns_to_go(ds, 1.0, NULL, rtg), ORL_OK);
    cr_assert_float_eq(rtg[0], 6.0, 1e-12);
    cr_assert_float_eq(rtg[3], 2.0, 1e-12);

    double ret[2];
    cr_assert_eq(orl_episode_returns(ds, 0.5, ret), ORL_OK);
    cr_assert_float_eq(ret[0], 1 + 0.5 * 2 + 0.25 * 3, 1e-12);
    cr_assert_float_eq(ret[1], 1.5, 1e-12);
    cr_assert_eq(orl_returns_to_go(ds, 1.5, NULL, rtg), ORL_ERR_INPUT);
    orl_dataset_free(ds);
}

Test(returns, episode_stats) {
    int lengths[] = {3, 2, 1}, term[] = {1, 0, 1};
    float rew[] = {1, 2, 3, 1, 1, -4};
    orl_dataset *ds = make(lengths, 3, rew, term);
    orl_episode_stats s;
    cr_assert_eq(orl_episode_stats_compute(ds, 1.0, &s), ORL_OK);
    cr_assert_eq(s.n_episodes, 3);
    cr_assert_eq(s.n_steps, 6);
    cr_assert_eq(s.n_terminal, 2);
    cr_assert_eq(s.n_timeout, 1);
    cr_assert_eq(s.len_min, 1);
    cr_assert_eq(s.len_max, 3);
    cr_assert_float_eq(s.len_mean, 2.0, 1e-12);
    cr_assert_float_eq(s.return_min, -4.0, 1e-12);
    cr_assert_float_eq(s.return_max, 6.0, 1e-12);
    cr_assert_float_eq(s.return_mean, 4.0 / 3.0, 1e-12);
    double m = 4.0 / 3.0;
    double sd = sqrt(((6 - m) * (6 - m) + (2 - m) * (2 - m) + (-4 - m) * (-4 - m)) / 3.0);
    cr_assert_float_eq(s.return_std, sd, 1e-12);
    orl_dataset_free(ds);
}

/* ---- selection ---- */

Test(select, top_percent_rounding_and_ties) {
    float returns[] = {5, 3, 9, 9, 1, 7, 2, 8, 4, 6};
    orl_dataset *ds = make_returns(returns, 10);
    uint8_t keep[10];

    /* 10% of 10 = 1 episode; two returns of 9 tie: the earlier index (2) wins */
    cr_assert_eq(orl_select_top(ds, 10.0, 1.0, keep), ORL_OK);
    uint8_t want1[10] = {0, 0, 1, 0, 0, 0, 0, 0, 0, 0};
    cr_assert_arr_eq(keep, want1, 10);

    /* 25% -> ceil(2.5) = 3: both 9s and the 8 */
    cr_assert_eq(orl_select_top(ds, 25.0, 1.0, keep), ORL_OK);
    uint8_t want3[10] = {0, 0, 1, 1, 0, 0, 0, 1, 0, 0};
    cr_assert_arr_eq(keep, want3, 10);

    /* 30% is exactly 3, not 4 */
    cr_assert_eq(orl_select_top(ds, 30.0, 1.0, keep), ORL_OK);
    cr_assert_arr_eq(keep, want3, 10);

    /* 0.5% -> at least one */
    cr_assert_eq(orl_select_top(ds, 0.5, 1.0, keep), ORL_OK);
    cr_assert_arr_eq(keep, want1, 10);

    /* 100% -> all */
    cr_assert_eq(orl_select_top(ds, 100.0, 1.0, keep), ORL_OK);
    for (int e = 0; e < 10; e++) cr_assert_eq(keep[e], 1);

    cr_assert_eq(orl_select_top(ds, 0.0, 1.0, keep), ORL_ERR_INPUT);
    cr_assert_eq(orl_select_top(ds, 101.0, 1.0, keep), ORL_ERR_INPUT);

    /* the selected dataset holds exactly those episodes, in order */
    cr_assert_eq(orl_select_top(ds, 25.0, 1.0, keep), ORL_OK);
    orl_dataset *sel;
    cr_assert_eq(orl_dataset_select(ds, keep, &sel), ORL_OK);
    cr_assert_eq(sel->n_episodes, 3);
    cr_assert_eq(sel->n_steps, 3);
    cr_assert_float_eq(sel->obs[0], 2.0f, 0);
    cr_assert_float_eq(sel->obs[2], 3.0f, 0);
    cr_assert_float_eq(sel->obs[4], 7.0f, 0);
    cr_assert_eq(orl_dataset_validate(sel), ORL_OK);
    orl_dataset_free(sel);
    orl_dataset_free(ds);
}

Test(select, top_percent_discounted_ranking) {
    /* A: 0 0 10 (undiscounted 10, with 0.5: 2.5); B: 4 (4 either way) */
    int lengths[] = {3, 1}, term[] = {1, 1};
    float rew[] = {0, 0, 10, 4};
    orl_dataset *ds = make(lengths, 2, rew, term);
    uint8_t keep[2];
    cr_assert_eq(orl_select_top(ds, 50.0, 1.0, keep), ORL_OK);
    cr_assert(keep[0] && !keep[1]);
    cr_assert_eq(orl_select_top(ds, 50.0, 0.5, keep), ORL_OK);
    cr_assert(!keep[0] && keep[1]);
    orl_dataset_free(ds);
}

Test(select, min_return) {
    float returns[] = {5, 3, 9, 9, 1, 7};
    orl_dataset *ds = make_returns(returns, 6);
    uint8_t keep[6];
    cr_assert_eq(orl_select_min_return(ds, 7.0, 1.0, keep), ORL_OK);
    uint8_t want[6] = {0, 0, 1, 1, 0, 1};
    cr_assert_arr_eq(keep, want, 6);
    cr_assert_eq(orl_select_min_return(ds, 100.0, 1.0, keep), ORL_OK);
    int64_t n_eps, n_steps;
    orl_keep_count(ds, keep, &n_eps, &n_steps);
    cr_assert_eq(n_eps, 0);
    cr_assert_eq(n_steps, 0);
    orl_dataset_free(ds);
}

Test(select, where_predicates) {
    int lengths[] = {2, 4, 5, 3, 6, 4}, term[] = {1, 1, 0, 1, 1, 0};
    orl_dataset *ds = make(lengths, 6, NULL, term);
    uint8_t keep[6];
    cr_assert_eq(orl_select_where(ds, "length > 3 AND terminated", NAN, keep), ORL_OK, "%s",
                 orl_error_message());
    uint8_t want[6] = {0, 1, 0, 0, 1, 0};
    cr_assert_arr_eq(keep, want, 6);

    cr_assert_eq(orl_select_where(ds, "timeout = 1", NAN, keep), ORL_OK);
    uint8_t want_to[6] = {0, 0, 1, 0, 0, 1};
    cr_assert_arr_eq(keep, want_to, 6);

    cr_assert_eq(orl_select_where(ds, "\"index\" % 2 = 0 AND return >= 4", NAN, keep), ORL_OK);
    uint8_t want_ix[6] = {0, 0, 1, 0, 1, 0};
    cr_assert_arr_eq(keep, want_ix, 6);

    /* metadata columns, subqueries over the table, discounted returns */
    cr_assert_eq(orl_select_where(ds,
                                  "env_id = 'Test-v0' AND behavior LIKE 'med%' AND "
                                  "return = (SELECT max(return) FROM episodes)",
                                  NAN, keep),
                 ORL_OK, "%s", orl_error_message());
    uint8_t want_max[6] = {0, 0, 0, 0, 1, 0};
    cr_assert_arr_eq(keep, want_max, 6);
    /* disc_return with 0.5: 2 steps -> 1.5, 3 steps -> 1.75, others more */
    cr_assert_eq(orl_select_where(ds, "disc_return < 1.8", 0.5, keep), ORL_OK);
    uint8_t want_disc[6] = {1, 0, 0, 1, 0, 0};
    cr_assert_arr_eq(keep, want_disc, 6);
    cr_assert_eq(orl_select_where(ds, "0", NAN, keep), ORL_OK);
    for (int e = 0; e < 6; e++) cr_assert_eq(keep[e], 0);
    orl_dataset_free(ds);
}

/* every hostile or broken predicate fails with ORL_ERR_INPUT and a message, leaves the
 * dataset as it was, and a good predicate still works afterwards */
Test(select, where_hostile_predicates) {
    int lengths[] = {2, 4, 5, 3}, term[] = {1, 1, 0, 1};
    orl_dataset *ds = make(lengths, 4, NULL, term);
    orl_dataset *copy = make(lengths, 4, NULL, term);
    uint8_t keep[4];
    const char *hostile[] = {
        "1; DROP TABLE episodes",
        "(SELECT 1) OR 1=1; DELETE FROM episodes",
        "1) ; DELETE FROM episodes; SELECT (1",
        "1); UPDATE episodes SET length = 0; SELECT (1",
        "1) ; ATTACH DATABASE '" SCRATCH "/evil.sqlite' AS evil; SELECT (1",
        "1); PRAGMA writable_schema = 1; SELECT (1",
        "load_extension('/nonexistent/evil')",
        "(WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT count(*) FROM c) > 0",
        /* 4^14 rows: stopped by the work bound */
        "(SELECT count(*) FROM episodes a, episodes b, episodes c, episodes d, episodes e, "
        "episodes f, episodes g, episodes h, episodes i, episodes j, episodes k, episodes l, "
        "episodes m, episodes n) > 0",
        "id IN (SELECT cid FROM pragma_table_info('episodes'))",
        "length >",
        "no_such_column = 1",
        "",
        "   ;  ",
    };
    for (size_t i = 0; i < sizeof hostile / sizeof hostile[0]; i++) {
        orl_error_clear();
        orl_status st = orl_select_where(ds, hostile[i], NAN, keep);
        cr_assert_eq(st, ORL_ERR_INPUT, "predicate '%s' gave %d", hostile[i], st);
        cr_assert(strlen(orl_error_message()) > 0, "predicate '%s': no message", hostile[i]);
        cr_assert(same_data(ds, copy), "predicate '%s' changed the dataset", hostile[i]);
    }
    cr_assert_eq(orl_fs_exists(SCRATCH "/evil.sqlite"), 0);

    /* a syntax error carries SQLite's text */
    cr_assert_eq(orl_select_where(ds, "length >", NAN, keep), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "incomplete input") ||
                  strstr(orl_error_message(), "syntax error"),
              "%s", orl_error_message());
    cr_assert_eq(orl_select_where(ds, "1; DROP TABLE episodes", NAN, keep), ORL_ERR_INPUT);
    cr_assert(strstr(orl_error_message(), "syntax error"), "%s", orl_error_message());

    /* still fine afterwards */
    cr_assert_eq(orl_select_where(ds, "length > 3 AND terminated", NAN, keep), ORL_OK);
    uint8_t want[4] = {0, 1, 0, 0};
    cr_assert_arr_eq(keep, want, 4);
    orl_dataset_free(copy);
    orl_dataset_free(ds);
}

/* the input file keeps its bytes whatever the predicate, for SQLite and HDF5 inputs */
Test(select, where_never_modifies_input_files) {
    int lengths[] = {2, 4, 5, 3}, term[] = {1, 1, 0, 1};
    orl_dataset *ds = make(lengths, 4, NULL, term);
    const char *names[] = {"hostile-in.sqlite", "hostile-in.h5"};
    for (int f = 0; f < 2; f++) {
        char path[512], out[512], cmd[2048];
        scratch(names[f], path, sizeof path);
        scratch(f ? "hostile-out-h5.h5" : "hostile-out-sq.h5", out, sizeof out);
        cr_assert_eq(orl_dataset_write(ds, path, NULL, NULL), ORL_OK, "%s", orl_error_message());
        long size0, size1;
        unsigned char *before = slurp(path, &size0);
        cr_assert_not_null(before);

        orl_dataset *in = NULL;
        cr_assert_eq(orl_dataset_read(path, NULL, NULL, &in), ORL_OK);
        uint8_t keep[4];
        cr_assert_eq(orl_select_where(in, "1; DROP TABLE episodes", NAN, keep), ORL_ERR_INPUT);
        cr_assert_eq(orl_select_where(in, "1); DELETE FROM steps; SELECT (1", NAN, keep),
                     ORL_ERR_INPUT);
        orl_dataset_free(in);

        snprintf(cmd, sizeof cmd,
                 ORL " filter %s -o %s --where '1); DELETE FROM episodes; SELECT (1' 2>/dev/null",
                 path, out);
        cr_assert_eq(run(cmd), 2);
        snprintf(cmd, sizeof cmd,
                 ORL " filter %s -o %s --where '(SELECT 1) OR 1=1; DELETE FROM steps' "
                     "2>/dev/null",
                 path, out);
        cr_assert_eq(run(cmd), 2);
        cr_assert_eq(orl_fs_exists(out), 0);

        unsigned char *after = slurp(path, &size1);
        cr_assert_not_null(after);
        cr_assert_eq(size0, size1, "%s changed size", path);
        cr_assert(memcmp(before, after, (size_t)size0) == 0, "%s changed", path);
        free(before);
        free(after);
    }
    orl_dataset_free(ds);
}

/* ---- AWR ---- */

Test(awr, weights_closed_form_zero_value) {
    /* V = 0, Monte Carlo: A = returns-to-go */
    int lengths[] = {3, 2}, term[] = {1, 0};
    float rew[] = {1, 2, 3, 1, 1};
    orl_dataset *ds = make(lengths, 2, rew, term);
    orl_awr_config cfg = orl_awr_defaults();
    cr_assert_eq(cfg.max_weight, 20.0);
    cr_assert_eq(cfg.beta, 1.0);
    cfg.kind = ORL_ADVANTAGE_KIND_MONTE_CARLO;
    cfg.discount = 0.5;
    cfg.standardize = 0;
    float w[5];
    double adv[5];
    cr_assert_eq(orl_awr_weights(ds, &cfg, NULL, w, adv), ORL_OK);
    double rtg[] = {2.75, 3.5, 3.0, 1.5, 1.0};
    for (int t = 0; t < 5; t++) {
        cr_assert_float_eq(adv[t], rtg[t], 1e-12, "t=%d", t);
        double want = fmin(exp(rtg[t]), 20.0); /* exp(3.5) = 33.1 and exp(3) = 20.09 clip */
        cr_assert_float_eq(w[t], (float)want, 1e-5f * (float)want, "t=%d: %g", t, (double)w[t]);
    }
    cr_assert_eq(w[1], 20.0f);
    cr_assert_eq(w[2], 20.0f);

    /* beta 2 halves the exponent; a clip of 5 */
    cfg.beta = 2.0;
    cfg.max_weight = 5.0;
    cr_assert_eq(orl_awr_weights(ds, &cfg, NULL, w, NULL), ORL_OK);
    for (int t = 0; t < 5; t++)
        cr_assert_float_eq(w[t], (float)fmin(exp(rtg[t] / 2.0), 5.0), 1e-5f, "t=%d", t);

    /* standardisation: (A - mean) / (std + 1e-5) */
    cfg.beta = 1.0;
    cfg.max_weight = 20.0;
    cfg.standardize = 1;
    cr_assert_eq(orl_awr_weights(ds, &cfg, NULL, w, NULL), ORL_OK);
    double mean = 0, ss = 0;
    for (int t = 0; t < 5; t++) mean += rtg[t] / 5.0;
    for (int t = 0; t < 5; t++) ss += (rtg[t] - mean) * (rtg[t] - mean);
    double sd = sqrt(ss / 5.0);
    for (int t = 0; t < 5; t++) {
        double want = fmin(exp((rtg[t] - mean) / (sd + 1e-5)), 20.0);
        cr_assert_float_eq(w[t], (float)want, 1e-5f, "t=%d", t);
    }

    /* a huge advantage overflows exp and is clipped, not inf */
    double big[2] = {1e6, -1e6};
    cfg.standardize = 0;
    cr_assert_eq(orl_awr_weights_from_advantages(big, 2, &cfg, w), ORL_OK);
    cr_assert_eq(w[0], 20.0f);
    cr_assert_eq(w[1], 0.0f);
    double bad[1] = {NAN};
    cr_assert_eq(orl_awr_weights_from_advantages(bad, 1, &cfg, w), ORL_ERR_NUMERIC);
    cfg.beta = 0.0;
    cr_assert_eq(orl_awr_weights_from_advantages(big, 2, &cfg, w), ORL_ERR_INPUT);
    orl_dataset_free(ds);
}

Test(awr, td_lambda_targets_by_hand) {
    /* one timeout episode, rewards 1 2 3, V(next) = 10 20 30, discount 0.5, lambda 0.5:
     * G2 = 3 + 0.5 * 30 = 18; G1 = 2 + 0.5 (0.5 * 20 + 0.5 * 18) = 11.5;
     * G0 = 1 + 0.5 (0.5 * 10 + 0.5 * 11.5) = 6.375. Terminal: G2 = 3, G1 = 2 + 0.5 (10 + 1.5)
     * = 7.75, G0 = 1 + 0.5 (5 + 3.875) = 5.4375 */
    int lengths[] = {3, 3}, term[] = {0, 1};
    float rew[] = {1, 2, 3, 1, 2, 3};
    orl_dataset *ds = make(lengths, 2, rew, term);
    orl_awr_config cfg = orl_awr_defaults();
    cfg.discount = 0.5;
    cfg.lambda = 0.5;
    double v_next[] = {10, 20, 30, 10, 20, 30}, g[6];
    cr_assert_eq(orl_awr_targets(ds, &cfg, v_next, g), ORL_OK);
    double want[] = {6.375, 11.5, 18.0, 5.4375, 7.75, 3.0};
    for (int t = 0; t < 6; t++) cr_assert_float_eq(g[t], want[t], 1e-12, "t=%d", t);

    /* A = G - V(s) */
    double v[] = {1, 1, 1, 2, 2, 2}, adv[6];
    cr_assert_eq(orl_awr_advantages(ds, &cfg, v, v_next, adv), ORL_OK);
    for (int t = 0; t < 6; t++) cr_assert_float_eq(adv[t], want[t] - v[t], 1e-12, "t=%d", t);

    /* Monte Carlo ignores lambda and equals the bootstrapped returns-to-go */
    cfg.kind = ORL_ADVANTAGE_KIND_MONTE_CARLO;
    double rtg[6];
    cr_assert_eq(orl_awr_targets(ds, &cfg, v_next, g), ORL_OK);
    cr_assert_eq(orl_returns_to_go(ds, 0.5, v_next, rtg), ORL_OK);
    for (int t = 0; t < 6; t++) cr_assert_float_eq(g[t], rtg[t], 1e-12, "t=%d", t);
    orl_dataset_free(ds);
}

Test(awr, value_regression_reduces_mse) {
    const uint64_t seed = 1234;
    orl_rng rng;
    orl_rng_seed(&rng, seed, 7);
    enum { N = 512 };
    static float obs[N * 2];
    static double target[N];
    for (int i = 0; i < N; i++) {
        double x = 2.0 * orl_rng_uniform(&rng) - 1.0, y = 2.0 * orl_rng_uniform(&rng) - 1.0;
        obs[2 * i] = (float)x;
        obs[2 * i + 1] = (float)y;
        target[i] = 30.0 * x * x - 10.0 * y + 50.0;
    }
    orl_value_fn v;
    cr_assert_eq(orl_value_init(&v, NULL, 2, &rng), ORL_OK);
    cr_assert_eq(orl_value_fit(&v, obs, target, N, 0, &rng, NULL), ORL_OK); /* statistics */
    double before = orl_value_mse(&v, obs, target, N);
    double loss;
    cr_assert_eq(orl_value_fit(&v, obs, target, N, 1500, &rng, &loss), ORL_OK);
    double after = orl_value_mse(&v, obs, target, N);
    cr_assert(isfinite(loss));
    cr_assert(after < 0.02 * before, "seed %llu: mse %g -> %g", (unsigned long long)seed, before,
              after);
    /* fitting continues where it stopped */
    cr_assert_eq(orl_value_fit(&v, obs, target, N, 300, &rng, NULL), ORL_OK);
    cr_assert(orl_value_mse(&v, obs, target, N) < 0.05 * before);
    orl_value_free(&v);
    orl_value_free(NULL);
}

Test(awr, fit_value_on_a_dataset_and_weights) {
    /* rewards 1 per step, terminal episodes of length 8: V(t) = sum of the rest (discount 0.9) */
    int lengths[] = {8, 8, 8, 8}, term[] = {1, 1, 1, 1};
    orl_dataset *ds = make(lengths, 4, NULL, term);
    orl_rng rng;
    orl_rng_seed(&rng, 99, 1);
    orl_value_fn v;
    orl_value_config vc = orl_value_defaults();
    vc.batch = 32;
    cr_assert_eq(orl_value_init(&v, &vc, 2, &rng), ORL_OK);
    orl_awr_config cfg = orl_awr_defaults();
    cfg.discount = 0.9;
    cfg.kind = ORL_ADVANTAGE_KIND_MONTE_CARLO;
    double rtg[32];
    cr_assert_eq(orl_returns_to_go(ds, 0.9, NULL, rtg), ORL_OK);
    double loss;
    for (int it = 0; it < 3; it++)
        cr_assert_eq(orl_awr_fit_value(ds, &cfg, &v, 500, &rng, &loss), ORL_OK);
    double mse = orl_value_mse(&v, ds->obs, rtg, 32);
    cr_assert(mse < 0.05, "seed 99: mse %g", mse);
    /* with V close to the returns-to-go every advantage is near 0: weights near 1 */
    cfg.standardize = 0;
    float w[32];
    double adv[32];
    cr_assert_eq(orl_awr_weights(ds, &cfg, &v, w, adv), ORL_OK);
    for (int t = 0; t < 32; t++) {
        cr_assert(fabs(adv[t]) < 0.5, "t=%d adv %g", t, adv[t]);
        cr_assert(w[t] > 0.6f && w[t] < 1.7f, "t=%d w %g", t, (double)w[t]);
    }
    orl_value_free(&v);
    orl_dataset_free(ds);
}

/* ---- normalisation ---- */

Test(normalize, obs_normalizer_from_dataset) {
    /* obs = (e, t): one episode of 4 steps -> column 0 constant (std floored), column 1 0..3 */
    int lengths[] = {4}, term[] = {1};
    orl_dataset *ds = make(lengths, 1, NULL, term);
    orl_normalizer nm;
    cr_assert_eq(orl_dataset_obs_normalizer(ds, 0.0f, &nm), ORL_OK);
    cr_assert_eq(nm.dim, 2);
    cr_assert_float_eq(nm.mean[0], 0.0f, 1e-7f);
    cr_assert_float_eq(nm.std[0], 1e-3f, 1e-9f);
    cr_assert_float_eq(nm.mean[1], 1.5f, 1e-6f);
    cr_assert_float_eq(nm.std[1], (float)sqrt(1.25), 1e-6f);
    orl_normalizer_free(&nm);
    orl_dataset_free(ds);
}

Test(normalize, iql_reward_scale) {
    int lengths[] = {3, 2, 1}, term[] = {1, 0, 1};
    float rew[] = {1, 2, 3, 1, 1, 4};
    orl_dataset *ds = make(lengths, 3, rew, term);
    double scale;
    cr_assert_eq(orl_reward_scale_iql(ds, &scale), ORL_OK);
    cr_assert_float_eq(scale, 1000.0 / (6.0 - 2.0), 1e-12);
    orl_dataset_scale_rewards(ds, scale, 0.0);
    cr_assert_float_eq(ds->rew[2], 750.0f, 1e-3f);
    double ret[3];
    cr_assert_eq(orl_episode_returns(ds, 1.0, ret), ORL_OK);
    cr_assert_float_eq(ret[0] - ret[1], 1000.0, 1e-3);
    orl_dataset_free(ds);

    float same[] = {2, 2};
    orl_dataset *flat = make_returns(same, 2);
    cr_assert_eq(orl_reward_scale_iql(flat, &scale), ORL_ERR_INPUT);
    orl_dataset_free(flat);
}

Test(normalize, split_by_episode_seeded) {
    int lengths[20], term[20];
    for (int e = 0; e < 20; e++) lengths[e] = 1 + e % 4, term[e] = e % 2;
    orl_dataset *ds = make(lengths, 20, NULL, term);
    uint8_t a[20], b[20], c[20];
    orl_rng rng;
    orl_rng_seed(&rng, 5, 0);
    cr_assert_eq(orl_split_episodes(ds, 0.2, &rng, a), ORL_OK);
    orl_rng_seed(&rng, 5, 0);
    cr_assert_eq(orl_split_episodes(ds, 0.2, &rng, b), ORL_OK);
    cr_assert_arr_eq(a, b, 20, "seed 5: not reproducible");
    int n_valid = 0;
    for (int e = 0; e < 20; e++) n_valid += a[e];
    cr_assert_eq(n_valid, 4);
    int differs = 0;
    for (uint64_t seed = 6; seed < 10 && !differs; seed++) {
        orl_rng_seed(&rng, seed, 0);
        cr_assert_eq(orl_split_episodes(ds, 0.2, &rng, c), ORL_OK);
        differs = memcmp(a, c, 20) != 0;
    }
    cr_assert(differs, "seeds 5..9 give the same split");

    /* the datasets: whole episodes, disjoint, everything accounted for */
    orl_dataset *train, *valid;
    orl_rng_seed(&rng, 5, 0);
    cr_assert_eq(orl_dataset_split(ds, 0.2, &rng, &train, &valid), ORL_OK);
    cr_assert_eq(valid->n_episodes, 4);
    cr_assert_eq(train->n_episodes, 16);
    cr_assert_eq(train->n_steps + valid->n_steps, ds->n_steps);
    cr_assert_eq(orl_dataset_validate(train), ORL_OK);
    cr_assert_eq(orl_dataset_validate(valid), ORL_OK);
    for (int64_t t = 0; t < valid->n_steps; t++) {
        int e = (int)valid->obs[2 * t];
        cr_assert(a[e], "step %lld of validation episode %d not marked", (long long)t, e);
    }
    for (int64_t t = 0; t < train->n_steps; t++) {
        int e = (int)train->obs[2 * t];
        cr_assert(!a[e], "episode %d on both sides", e);
    }
    orl_dataset_free(train);
    orl_dataset_free(valid);

    /* tiny fractions keep at least one, never all */
    orl_rng_seed(&rng, 5, 0);
    cr_assert_eq(orl_split_episodes(ds, 0.001, &rng, a), ORL_OK);
    n_valid = 0;
    for (int e = 0; e < 20; e++) n_valid += a[e];
    cr_assert_eq(n_valid, 1);
    cr_assert_eq(orl_split_episodes(ds, 1.0, &rng, a), ORL_ERR_INPUT);
    orl_dataset_free(ds);
}

/* ---- the command line ---- */

Test(cli, filter_writes_a_valid_file) {
    int lengths[] = {2, 4, 5, 3, 6, 4}, term[] = {1, 1, 0, 1, 1, 0};
    orl_dataset *ds = make(lengths, 6, NULL, term);
    char in[512], out[512], out2[512], cmd[2048];
    scratch("cli-in.h5", in, sizeof in);
    scratch("cli-out.sqlite", out, sizeof out);
    scratch("cli-out-top.h5", out2, sizeof out2);
    cr_assert_eq(orl_dataset_write(ds, in, NULL, NULL), ORL_OK, "%s", orl_error_message());

    snprintf(cmd, sizeof cmd, ORL " filter %s -o %s --where 'length > 3 AND terminated' >/dev/null",
             in, out);
    cr_assert_eq(run(cmd), 0);
    int64_t steps, eps;
    cr_assert_eq(orl_validate_file(out, NULL, NULL, &steps, &eps), ORL_OK, "%s",
                 orl_error_message());
    cr_assert_eq(eps, 2);
    cr_assert_eq(steps, 10);

    /* top 50% of 6 = 3 episodes: returns are the lengths 6, 5, 4 (index 1 before 5) */
    snprintf(cmd, sizeof cmd, ORL " filter %s -o %s --top 50%% >/dev/null", in, out2);
    cr_assert_eq(run(cmd), 0);
    orl_dataset *got;
    cr_assert_eq(orl_dataset_read(out2, NULL, NULL, &got), ORL_OK);
    cr_assert_eq(got->n_episodes, 3);
    cr_assert_eq(got->n_steps, 15);
    cr_assert_float_eq(got->obs[0], 1.0f, 0);
    orl_dataset_free(got);

    /* a bad predicate: exit 2 and no output */
    char bad[512];
    scratch("cli-bad.h5", bad, sizeof bad);
    snprintf(cmd, sizeof cmd, ORL " filter %s -o %s --where 'length >>> 3' 2>/dev/null", in, bad);
    cr_assert_eq(run(cmd), 2);
    cr_assert_eq(orl_fs_exists(bad), 0);
    snprintf(cmd, sizeof cmd, ORL " filter %s -o %s --where '1; DROP TABLE episodes' 2>/dev/null",
             in, bad);
    cr_assert_eq(run(cmd), 2);
    cr_assert_eq(orl_fs_exists(bad), 0);
    /* usage errors */
    snprintf(cmd, sizeof cmd, ORL " filter %s -o %s 2>/dev/null", in, bad);
    cr_assert_eq(run(cmd), 2);
    snprintf(cmd, sizeof cmd, ORL " filter %s -o %s --top 10%% --min-return 3 2>/dev/null", in,
             bad);
    cr_assert_eq(run(cmd), 2);
    snprintf(cmd, sizeof cmd, ORL " filter %s -o %s --min-return 1000 2>/dev/null", in, bad);
    cr_assert_eq(run(cmd), 2);
    cr_assert_eq(orl_fs_exists(bad), 0);
    orl_dataset_free(ds);
}

/* Exact values of policies in the tabular environments by finite-horizon backward induction
 * over the environment's model (orl_tabular_model_get, eval/gridworld.c), and the reader of the
 * softmax parameter files of the regression-importance-sampling study. No sampling here. */
#include "orl/tabular.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* backward induction: V_h from V_{h-1}, both (n_states), h = 1..horizon */
static double model_value(const orl_tabular_model *m, const double *probs, double gamma,
                          int32_t horizon) {
    double buffers[2][ORL_TABULAR_MAX_STATES] = {{0}};
    double *prev = buffers[0], *cur = buffers[1];
    int32_t n_a = m->n_actions;
    for (int32_t h = 1; h <= horizon; h++) {
        for (int32_t s = 0; s < m->n_states; s++) {
            double v = 0.0;
            if (!m->absorbing[s])
                for (int32_t a = 0; a < n_a; a++) {
                    int32_t i = s * n_a + a;
                    double future = m->ends[i] ? 0.0 : gamma * prev[m->next[i]];
                    v += probs[i] * (m->reward[i] + future);
                }
            cur[s] = v;
        }
        double *swap = prev;
        prev = cur;
        cur = swap;
    }
    return prev[m->start];
}

orl_status orl_tabular_table_value(const char *env_id, const double *probs, int32_t n_rows,
                                   double gamma, int32_t horizon, double *value) {
    assert(probs && value);
    orl_tabular_model m;
    ORL_TRY(orl_tabular_model_get(env_id, &m));
    if (!(gamma >= 0.0 && gamma <= 1.0))
        ORL_FAIL(ORL_ERR_INPUT, "%s: gamma %g outside [0, 1]", env_id, gamma);
    if (horizon < 0)
        ORL_FAIL(ORL_ERR_INPUT, "%s: horizon %d, expected >= 1 (or 0 for the time limit)", env_id,
                 horizon);
    if (horizon == 0) horizon = m.max_episode_steps;
    if (n_rows < 1 || n_rows > m.n_states)
        ORL_FAIL(ORL_ERR_INPUT, "%s: %d rows in the probability table, expected at most %d", env_id,
                 n_rows, m.n_states);
    for (int32_t s = n_rows; s < m.n_states; s++)
        if (!m.absorbing[s])
            ORL_FAIL(ORL_ERR_INPUT,
                     "%s: the probability table has %d rows but state %d is not absorbing", env_id,
                     n_rows, s);

    /* the full table: given rows checked, missing absorbing rows uniform (never used) */
    double full[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS];
    int32_t n_a = m.n_actions;
    for (int32_t s = 0; s < m.n_states; s++) {
        if (s >= n_rows) {
            for (int32_t a = 0; a < n_a; a++) full[s * n_a + a] = 1.0 / n_a;
            continue;
        }
        double sum = 0.0;
        for (int32_t a = 0; a < n_a; a++) {
            double p = probs[s * n_a + a];
            if (!(isfinite(p) && p >= 0.0))
                ORL_FAIL(ORL_ERR_INPUT, "%s: probability of action %d in state %d is %g", env_id, a,
                         s, p);
            full[s * n_a + a] = p;
            sum += p;
        }
        if (fabs(sum - 1.0) > 1e-9)
            ORL_FAIL(ORL_ERR_INPUT, "%s: the probabilities in state %d sum to %.12g, not 1", env_id,
                     s, sum);
    }
    *value = model_value(&m, full, gamma, horizon);
    return ORL_OK;
}

orl_status orl_tabular_policy_probs(const char *env_id, const orl_policy *policy, double *probs) {
    assert(policy && probs);
    orl_tabular_model m;
    ORL_TRY(orl_tabular_model_get(env_id, &m));
    if (policy->action_kind != ORL_ACTION_KIND_DISCRETE || policy->n_actions != m.n_actions ||
        policy->obs_dim != m.n_states)
        ORL_FAIL(ORL_ERR_INPUT,
                 "policy%s%s (%s) does not fit %s: it has %s actions (%d of them) and %d "
                 "observations, expected %d discrete actions and %d (one-hot states)",
                 policy->source[0] ? " " : "", policy->source, policy->algorithm, env_id,
                 policy->action_kind == ORL_ACTION_KIND_DISCRETE ? "discrete" : "continuous",
                 policy->n_actions, policy->obs_dim, m.n_actions, m.n_states);

    int32_t n_s = m.n_states, n_a = m.n_actions;
    float obs[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_STATES] = {0}; /* (n_states, n_states) */
    for (int32_t s = 0; s < n_s; s++) obs[s * n_s + s] = 1.0f;

    orl_policy_work *work = NULL;
    ORL_TRY(orl_policy_work_create(policy, n_s, &work));
    orl_status st = ORL_OK;
    if (policy->deterministic) {
        /* a deterministic policy: all mass on its one action */
        int32_t act_idx[ORL_TABULAR_MAX_STATES];
        ORL_TRY_GOTO(
            st, done,
            orl_policy_act(policy, work, obs, n_s, ORL_POLICY_MODE_MEAN, NULL, NULL, act_idx));
        for (int32_t s = 0; s < n_s; s++)
            for (int32_t a = 0; a < n_a; a++) probs[s * n_a + a] = a == act_idx[s] ? 1.0 : 0.0;
    } else {
        /* one batch of all states per action */
        int32_t act_idx[ORL_TABULAR_MAX_STATES];
        double logp[ORL_TABULAR_MAX_STATES];
        for (int32_t a = 0; a < n_a; a++) {
            for (int32_t s = 0; s < n_s; s++) act_idx[s] = a;
            ORL_TRY_GOTO(st, done, orl_policy_logp(policy, work, obs, n_s, NULL, act_idx, logp));
            for (int32_t s = 0; s < n_s; s++) probs[s * n_a + a] = exp(logp[s]);
        }
    }
    for (int32_t s = 0; s < n_s; s++) {
        if (m.absorbing[s]) {
            for (int32_t a = 0; a < n_a; a++) probs[s * n_a + a] = 1.0 / n_a;
            continue;
        }
        double sum = 0.0;
        for (int32_t a = 0; a < n_a; a++) sum += probs[s * n_a + a];
        if (!(fabs(sum - 1.0) <= 1e-4))
            ORL_FAIL_GOTO(st, done, ORL_ERR_INPUT,
                          "policy%s%s (%s): its probabilities in state %d of %s sum to %.9g, "
                          "not 1",
                          policy->source[0] ? " " : "", policy->source, policy->algorithm, s,
                          env_id, sum);
        for (int32_t a = 0; a < n_a; a++) probs[s * n_a + a] /= sum;
    }
done:
    orl_policy_work_free(work);
    return st;
}

orl_status orl_tabular_policy_value(const char *env_id, const orl_policy *policy, double gamma,
                                    int32_t horizon, double *value) {
    orl_tabular_model m;
    ORL_TRY(orl_tabular_model_get(env_id, &m));
    double probs[ORL_TABULAR_MAX_STATES * ORL_TABULAR_MAX_ACTIONS];
    ORL_TRY(orl_tabular_policy_probs(env_id, policy, probs));
    return orl_tabular_table_value(env_id, probs, m.n_states, gamma, horizon, value);
}

orl_status orl_tabular_read_numbers(const char *path, double *out, int64_t cap, int64_t *count) {
    assert(path && out && count);
    *count = 0;
    FILE *f = fopen(path, "r");
    if (!f) ORL_FAIL(ORL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    orl_status st = ORL_OK;

    /* tokens separated by whitespace; line and column of each token for messages */
    long line = 1, column = 0, token_line = 1, token_column = 1;
    char token[128];
    size_t len = 0;
    for (;;) {
        int c = fgetc(f);
        if (c != EOF && !isspace(c)) {
            if (len == 0) {
                token_line = line;
                token_column = column + 1;
            }
            if (len + 1 >= sizeof token)
                ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                              "%s:%ld:%ld: number %lld is longer than %zu characters", path,
                              token_line, token_column, (long long)*count + 1, sizeof token - 1);
            token[len++] = (char)c;
            column++;
            continue;
        }
        if (len > 0) {
            token[len] = '\0';
            if (*count >= cap)
                ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                              "%s:%ld:%ld: more than the expected %lld numbers", path, token_line,
                              token_column, (long long)cap);
            char *end = NULL;
            errno = 0;
            double x = strtod(token, &end);
            if (end == token || *end != '\0' || !isfinite(x) || errno == ERANGE)
                ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                              "%s:%ld:%ld: number %lld is '%s', expected a finite number", path,
                              token_line, token_column, (long long)*count + 1, token);
            out[(*count)++] = x;
            len = 0;
        }
        if (c == EOF) break;
        if (c == '\n') {
            line++;
            column = 0;
        } else
            column++;
    }
    if (ferror(f)) ORL_FAIL_GOTO(st, done, ORL_ERR_IO, "%s: read error", path);
done:
    fclose(f);
    return st;
}

orl_status orl_tabular_softmax_from_file(const char *path, int32_t n_states, int32_t n_actions,
                                         double *probs) {
    assert(path && probs);
    if (n_states < 1 || n_actions < 1)
        ORL_FAIL(ORL_ERR_INPUT, "%s: %d states and %d actions, expected >= 1 of each", path,
                 n_states, n_actions);
    int64_t want = (int64_t)n_states * n_actions, count = 0;
    double *theta = malloc((size_t)want * sizeof *theta); /* (n_actions, n_states) */
    if (!theta) ORL_FAIL(ORL_ERR_NOMEM, "%s: %lld parameters", path, (long long)want);
    orl_status st = ORL_OK;
    ORL_TRY_GOTO(st, done, orl_tabular_read_numbers(path, theta, want, &count));
    if (count != want)
        ORL_FAIL_GOTO(st, done, ORL_ERR_FORMAT,
                      "%s: %lld numbers, expected %lld (%d actions x %d states)", path,
                      (long long)count, (long long)want, n_actions, n_states);

    /* softmax over actions per state, shifted by the largest parameter */
    for (int32_t s = 0; s < n_states; s++) {
        double top = theta[s];
        for (int32_t a = 1; a < n_actions; a++)
            if (theta[a * n_states + s] > top) top = theta[a * n_states + s];
        double sum = 0.0;
        for (int32_t a = 0; a < n_actions; a++) {
            double e = exp(theta[a * n_states + s] - top);
            probs[s * n_actions + a] = e;
            sum += e;
        }
        for (int32_t a = 0; a < n_actions; a++) probs[s * n_actions + a] /= sum;
    }
done:
    free(theta);
    return st;
}

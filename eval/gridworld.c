/* GridWorld-4x4: the 4x4 grid of the regression-importance-sampling study (see
 * tests/fixtures/README.md and docs/environments.md), and its model for eval/tabular.c.
 *
 * Cells s = x + 4y, start (0,0), cell 15 = (3,3) terminal. Actions 0: x+1, 1: x-1, 2: y+1,
 * 3: y-1; a move off the grid stays in place. The reward is for the cell occupied after the move
 * (staying included): (1,1) -10, (1,3) +1, (3,3) +100 and the episode terminates, else -1. The
 * observation is the one-hot of the 16 cells. The dynamics are deterministic: the rng is never
 * drawn from. The 100-step time limit is applied by env.c. */
#include "eval/env_internal.h"
#include "orl/tabular.h"

#include <string.h>

#define SIDE     4
#define N_CELLS  (SIDE * SIDE)
#define N_MOVES  4
#define TERMINAL (N_CELLS - 1)

typedef struct gridworld_state {
    int32_t cell; /* x + 4y */
} gridworld_state;

/* the one transition rule, shared by step and the model */
static void transition(int32_t cell, int32_t action, int32_t *next, double *reward, int *ends) {
    int32_t x = cell % SIDE, y = cell / SIDE;
    if (action == 0 && x < SIDE - 1)
        x++;
    else if (action == 1 && x > 0)
        x--;
    else if (action == 2 && y < SIDE - 1)
        y++;
    else if (action == 3 && y > 0)
        y--;
    *next = x + SIDE * y;
    *ends = 0;
    if (x == 1 && y == 1)
        *reward = -10.0;
    else if (x == 1 && y == SIDE - 1)
        *reward = 1.0;
    else if (x == SIDE - 1 && y == SIDE - 1) {
        *reward = 100.0;
        *ends = 1;
    } else
        *reward = -1.0;
}

static void write_obs(int32_t cell, float *obs) {
    for (int32_t i = 0; i < N_CELLS; i++) obs[i] = 0.0f;
    obs[cell] = 1.0f;
}

static void gridworld_reset(void *state, orl_rng *rng, float *obs) {
    (void)rng;
    gridworld_state *g = state;
    g->cell = 0;
    write_obs(g->cell, obs);
}

static void gridworld_step(void *state, orl_rng *rng, const float *act, int32_t act_idx,
                           float *next_obs, double *reward, int *terminated) {
    (void)rng;
    (void)act;
    gridworld_state *g = state;
    int32_t next;
    transition(g->cell, act_idx, &next, reward, terminated);
    g->cell = next;
    write_obs(g->cell, next_obs);
}

/* the hot cell of a one-hot observation: exactly one 1 and fifteen 0s */
static int32_t gridworld_state_index(const float *obs) {
    int32_t hot = -1;
    for (int32_t i = 0; i < N_CELLS; i++) {
        if (obs[i] == 1.0f) {
            if (hot >= 0) return -1;
            hot = i;
        } else if (obs[i] != 0.0f)
            return -1;
    }
    return hot;
}

const orl_env_ops orl_env_gridworld_4x4 = {
    .spec =
        {
            .id = "GridWorld-4x4",
            .obs_dim = N_CELLS,
            .action_kind = ORL_ACTION_KIND_DISCRETE,
            .act_dim = 1,
            .n_actions = N_MOVES,
            .obs_low = {0},
            .obs_high = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
            .max_episode_steps = 100,
            .gamma = 1.0,
            .reward_bounded = 1,
            .reward_min = -10.0,
            .reward_max = 100.0,
        },
    .state_size = sizeof(gridworld_state),
    .reset = gridworld_reset,
    .step = gridworld_step,
    .n_states = N_CELLS,
    .state_index = gridworld_state_index,
};

orl_status orl_tabular_model_get(const char *env_id, orl_tabular_model *model) {
    if (!env_id || strcmp(env_id, orl_env_gridworld_4x4.spec.id) != 0)
        ORL_FAIL(ORL_ERR_UNSUPPORTED, "'%s' is not a tabular environment (tabular: %s)",
                 env_id ? env_id : "(null)", orl_env_gridworld_4x4.spec.id);
    memset(model, 0, sizeof *model);
    model->n_states = N_CELLS;
    model->n_actions = N_MOVES;
    model->start = 0;
    model->max_episode_steps = orl_env_gridworld_4x4.spec.max_episode_steps;
    for (int32_t s = 0; s < N_CELLS; s++) {
        model->absorbing[s] = s == TERMINAL;
        for (int32_t a = 0; a < N_MOVES; a++) {
            int ends;
            transition(s, a, &model->next[s * N_MOVES + a], &model->reward[s * N_MOVES + a], &ends);
            model->ends[s * N_MOVES + a] = (uint8_t)ends;
        }
    }
    return ORL_OK;
}

/* PointMaze: a point mass pushed by a bounded force through a maze of square wall cells toward a
 * fixed goal, in the manner of D4RL's maze2d but with orl's own layouts and constants (all of
 * them in docs/environments.md, which must agree with this file).
 *
 * Coordinates: x grows with the column and y with the row of the ASCII map as drawn (down the
 * page); cell (row r, column c) is the unit square [c, c+1) x [r, r+1). The point is a square of
 * half-width RADIUS for collisions. Each step integrates SUBSTEPS semi-implicit Euler substeps:
 *   v += h (F - DAMPING v) / MASS, each component clipped to [-MAX_SPEED, MAX_SPEED],
 *   then x moves by h vx unless that puts the point over a wall cell (then vx = 0), then
 *   y likewise with the updated x (axis-wise rejection).
 * A substep moves at most MAX_SPEED h = 0.02 < RADIUS, so nothing tunnels through a wall.
 *
 * Observation (x, y, vx, vy); action (fx, fy) in [-1, 1]^2 (clipped), force = MAX_FORCE * action.
 * Sparse reward 1 within GOAL_RADIUS of the goal centre after the step, else 0; dense reward
 * exp(-distance). Reaching the goal never terminates the episode (as maze2d); only the time
 * limit (env.c) ends it. Start: the 'S' cell's centre plus uniform noise of +-START_NOISE per
 * axis, velocity N(0, START_VEL_NOISE^2) per axis, from the environment's rng. */
#include "eval/env_internal.h"

#include <math.h>

#define MASS            1.0 /* kg */
#define DAMPING         1.0 /* N s/m: the drag force is -DAMPING v */
#define MAX_FORCE       5.0 /* N, for an action of 1 */
#define MAX_SPEED       2.0 /* per velocity component */
#define DT              0.1 /* s per environment step */
#define SUBSTEPS        10
#define RADIUS          0.1 /* half-width of the point's collision square */
#define GOAL_RADIUS     0.5
#define START_NOISE     0.1
#define START_VEL_NOISE 0.1
#define MAX_ROWS        16

typedef struct maze_layout {
    int32_t rows, cols;
    const char *map[MAX_ROWS]; /* (rows) strings of cols characters: '#' wall, '.' open,
                                  'S' start, 'G' goal */
} maze_layout;

static const maze_layout umaze = {
    5,
    5,
    {
        "#####",
        "#S..#",
        "###.#",
        "#G..#",
        "#####",
    },
};

static const maze_layout medium = {
    8,
    8,
    {
        "########",
        "#S.#...#",
        "#..#.#.#",
        "##...#.#",
        "#..#...#",
        "#.##.#.#",
        "#...#.G#",
        "########",
    },
};

typedef struct pointmaze_state {
    const maze_layout *layout;
    int dense;
    double x, y, vx, vy;
    double goal_x, goal_y;
} pointmaze_state;

static int is_wall(const maze_layout *m, int32_t row, int32_t col) {
    if (row < 0 || row >= m->rows || col < 0 || col >= m->cols) return 1;
    return m->map[row][col] == '#';
}

/* the point's square at (x, y) overlaps no wall cell; its four corners cover every cell it
 * touches since it is smaller than a cell */
static int is_free(const maze_layout *m, double x, double y) {
    for (int i = 0; i < 4; i++) {
        double cx = x + (i & 1 ? RADIUS : -RADIUS);
        double cy = y + (i & 2 ? RADIUS : -RADIUS);
        if (is_wall(m, (int32_t)floor(cy), (int32_t)floor(cx))) return 0;
    }
    return 1;
}

/* the centre of the first cell holding marker */
static void find_cell(const maze_layout *m, char marker, double *x, double *y) {
    for (int32_t r = 0; r < m->rows; r++)
        for (int32_t c = 0; c < m->cols; c++)
            if (m->map[r][c] == marker) {
                *x = c + 0.5;
                *y = r + 0.5;
                return;
            }
}

static double clip(double v, double lo, double hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

static void write_obs(const pointmaze_state *p, float *obs) {
    obs[0] = (float)p->x;
    obs[1] = (float)p->y;
    obs[2] = (float)p->vx;
    obs[3] = (float)p->vy;
}

static void maze_reset(const maze_layout *m, int dense, void *state, orl_rng *rng, float *obs) {
    pointmaze_state *p = state;
    p->layout = m;
    p->dense = dense;
    find_cell(m, 'G', &p->goal_x, &p->goal_y);
    find_cell(m, 'S', &p->x, &p->y);
    p->x += START_NOISE * (2.0 * orl_rng_uniform(rng) - 1.0);
    p->y += START_NOISE * (2.0 * orl_rng_uniform(rng) - 1.0);
    p->vx = clip(START_VEL_NOISE * orl_rng_normal(rng), -MAX_SPEED, MAX_SPEED);
    p->vy = clip(START_VEL_NOISE * orl_rng_normal(rng), -MAX_SPEED, MAX_SPEED);
    write_obs(p, obs);
}

static void maze_step(void *state, orl_rng *rng, const float *act, int32_t act_idx, float *next_obs,
                      double *reward, int *terminated) {
    (void)rng;
    (void)act_idx;
    pointmaze_state *p = state;
    const maze_layout *m = p->layout;
    double fx = MAX_FORCE * clip(act[0], -1.0, 1.0);
    double fy = MAX_FORCE * clip(act[1], -1.0, 1.0);
    double h = DT / SUBSTEPS;
    for (int k = 0; k < SUBSTEPS; k++) {
        p->vx = clip(p->vx + h * (fx - DAMPING * p->vx) / MASS, -MAX_SPEED, MAX_SPEED);
        p->vy = clip(p->vy + h * (fy - DAMPING * p->vy) / MASS, -MAX_SPEED, MAX_SPEED);
        /* axis-wise rejection: a move that would overlap a wall is undone and stops that axis */
        double nx = p->x + h * p->vx;
        if (is_free(m, nx, p->y))
            p->x = nx;
        else
            p->vx = 0.0;
        double ny = p->y + h * p->vy;
        if (is_free(m, p->x, ny))
            p->y = ny;
        else
            p->vy = 0.0;
    }
    double distance = hypot(p->x - p->goal_x, p->y - p->goal_y);
    *reward = p->dense ? exp(-distance) : distance <= GOAL_RADIUS ? 1.0 : 0.0;
    *terminated = 0;
    write_obs(p, next_obs);
}

static void umaze_reset(void *state, orl_rng *rng, float *obs) {
    maze_reset(&umaze, 0, state, rng, obs);
}
static void umaze_dense_reset(void *state, orl_rng *rng, float *obs) {
    maze_reset(&umaze, 1, state, rng, obs);
}
static void medium_reset(void *state, orl_rng *rng, float *obs) {
    maze_reset(&medium, 0, state, rng, obs);
}
static void medium_dense_reset(void *state, orl_rng *rng, float *obs) {
    maze_reset(&medium, 1, state, rng, obs);
}

/* the spec of a maze of rows x cols cells */
#define MAZE_SPEC(name, rows, cols, limit)                                                         \
    {                                                                                              \
        .id = name, .obs_dim = 4, .action_kind = ORL_ACTION_KIND_CONTINUOUS, .act_dim = 2,         \
        .n_actions = 0, .obs_low = {0.0f, 0.0f, (float)-MAX_SPEED, (float)-MAX_SPEED},             \
        .obs_high = {(float)(cols), (float)(rows), (float)MAX_SPEED, (float)MAX_SPEED},            \
        .act_low = {-1.0f, -1.0f}, .act_high = {1.0f, 1.0f}, .max_episode_steps = (limit),         \
        .gamma = 0.99, .reward_bounded = 1, .reward_min = 0.0, .reward_max = 1.0,                  \
    }

const orl_env_ops orl_env_pointmaze_umaze = {
    .spec = MAZE_SPEC("PointMaze-UMaze", 5, 5, 300),
    .state_size = sizeof(pointmaze_state),
    .reset = umaze_reset,
    .step = maze_step,
};

const orl_env_ops orl_env_pointmaze_umaze_dense = {
    .spec = MAZE_SPEC("PointMaze-UMaze-Dense", 5, 5, 300),
    .state_size = sizeof(pointmaze_state),
    .reset = umaze_dense_reset,
    .step = maze_step,
};

const orl_env_ops orl_env_pointmaze_medium = {
    .spec = MAZE_SPEC("PointMaze-Medium", 8, 8, 600),
    .state_size = sizeof(pointmaze_state),
    .reset = medium_reset,
    .step = maze_step,
};

const orl_env_ops orl_env_pointmaze_medium_dense = {
    .spec = MAZE_SPEC("PointMaze-Medium-Dense", 8, 8, 600),
    .state_size = sizeof(pointmaze_state),
    .reset = medium_dense_reset,
    .step = maze_step,
};

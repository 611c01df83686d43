/* Built-in behaviour policies (orl/behavior.h): one hand-designed controller per environment,
 * mixed with uniform noise so that every level is stochastic and its log-probability exact.
 *
 * The controllers read the observation only (no access to the environment's state):
 *   CartPole-v1               linear state feedback u = k . (x, x', theta, theta'), push right
 *                             when u > 0
 *   Acrobot-v1                energy pumping: full torque with the sign of t2' - 0.2 t1'
 *   MountainCar-v0 and        bang-bang on the sign of the velocity (half force for the
 *   MountainCarContinuous-v0  continuous car)
 *   Pendulum-v1               energy shaping swing-up, PD (LQR-like) balance near the top
 *   GridWorld-4x4             the shortest path (BFS) to the goal avoiding the -10 cell; all
 *                             shortest-path moves share the mass
 *   PointMaze-*               BFS over the maze's cells to the goal cell, PD toward the centre
 *                             of the next cell (the goal itself in the goal cell)
 *   the MuJoCo tasks          (Hopper-v4 ... Pusher-v4, built with ORL_WITH_MUJOCO) no
 *                             controller: the random level (uniform on the action box) here,
 *                             every other level a SAC policy file embedded into the library
 *                             (policy_assets.c), which orl_behavior_create returns instead
 * Not here: the environments (classic.c, gridworld.c, pointmaze.c), rollouts, dataset
 * generation. Nothing is allocated after create/work_create. */
#include "orl/behavior.h"
#include "eval/policy_assets.h"
#include "orl/heads.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PI         3.14159265358979323846
#define MAX_A      8 /* widest action of the environments here (Ant-v4) */
#define MAX_N      4 /* most discrete actions */
#define MAZE_MAX   8 /* rows and columns of the largest maze */
#define CONFIG_CAP 256
#define MAZE_KP    2.0 /* PointMaze PD gains (unit action per metre, per m/s) */
#define MAZE_KD    0.5
#define LEVEL_CAP  32
#define ENV_ID_CAP 48
/* PointMaze "diverse": the noise X of its action density, and the distance to the goal cell's
 * centre at which a waypoint goal counts as reached (the environment's goal radius) */
#define DIVERSE_NOISE 0.1
#define DIVERSE_REACH 0.5

/* ---- the environments and their controllers ---- */

typedef struct maze_layout {
    int32_t rows, cols;
    const char *cells[MAZE_MAX]; /* (rows) strings of cols characters: '#' wall, '.' open,
                                    'S' start, 'G' goal */
} maze_layout;

typedef struct env_entry {
    const char *id;
    int32_t obs_dim;   /* S */
    int32_t act_dim;   /* A; 1 for discrete */
    int32_t n_actions; /* discrete: n; continuous: 0 */
    float low[MAX_A];  /* (A) continuous action box */
    float high[MAX_A]; /* (A) */
    double medium;     /* the tuned medium noise */
    /* discrete: preferences pref (n), the best ones are the controller's actions */
    void (*prefer)(const struct env_entry *e, const float *obs, double *pref);
    /* continuous: the controller's action act (A) in the environment's units; NULL when there
     * is no controller (only the random level exists) */
    void (*control)(const struct env_entry *e, const float *obs, double *act);
    const maze_layout *maze; /* PointMaze only */
} env_entry;

static double clampd(double x, double lo, double hi) {
    return x < lo ? lo : x > hi ? hi : x;
}

/* CartPole-v1: obs (x, x', theta, theta'); action 1 pushes right. Positive theta leans right,
 * pushing right under it rights it; the x terms pull the cart back to the centre. */
static void cartpole_pref(const env_entry *e, const float *obs, double *pref) {
    (void)e;
    double u = 0.1 * obs[0] + 0.5 * obs[1] + 10.0 * obs[2] + 2.0 * obs[3];
    pref[0] = -u;
    pref[1] = u;
}

/* Acrobot-v1: obs (cos t1, sin t1, cos t2, sin t2, t1', t2'); actions torque -1, 0, +1 on the
 * elbow. Energy pumping: full torque along the elbow's velocity relative to a fifth of the
 * shoulder's, u = t2' - 0.2 t1' (chosen among simple velocity feedbacks by its returns: about
 * -76 over 20 episodes, against -93 for u = t2' alone). */
static void acrobot_pref(const env_entry *e, const float *obs, double *pref) {
    (void)e;
    double u = (double)obs[5] - 0.2 * (double)obs[4];
    pref[0] = -u;
    pref[1] = -fabs(u);
    pref[2] = u;
}

/* MountainCar-v0: obs (position, velocity); actions left, none, right: push with the velocity */
static void mountaincar_pref(const env_entry *e, const float *obs, double *pref) {
    (void)e;
    double v = (double)obs[1];
    pref[0] = v < 0.0 ? 1.0 : 0.0;
    pref[1] = -1.0;
    pref[2] = v < 0.0 ? 0.0 : 1.0;
}

/* MountainCarContinuous-v0: the same bang-bang at half force. Full force reaches the goal sooner
 * but pays more for it (-0.1 a^2 per step): 89.7 against 95.5 over 50 episodes. */
static void mountaincar_continuous_control(const env_entry *e, const float *obs, double *act) {
    (void)e;
    act[0] = obs[1] < 0.0f ? -0.5 : 0.5;
}

/* Pendulum-v1: obs (cos th, sin th, th'), th = 0 upright; th'' = 15 sin th + 3 u (g = 10,
 * m = l = 1). E = th'^2 / 2 + 15 cos th is conserved without torque and is 15 at rest on top.
 * Near the top a PD law balances (th'' ~ (15 - 3 kp) th - 3 kd th'); elsewhere full torque
 * along th' pumps E up to 15 (and against th' brakes it when above). */
static void pendulum_control(const env_entry *e, const float *obs, double *act) {
    (void)e;
    double th = atan2((double)obs[1], (double)obs[0]), thd = (double)obs[2];
    double energy = 0.5 * thd * thd + 15.0 * cos(th);
    if (cos(th) > 0.85) {
        act[0] = clampd(-10.0 * th - 2.0 * thd, -2.0, 2.0);
        return;
    }
    double dir = thd >= 0.0 ? 1.0 : -1.0;
    act[0] = energy < 15.0 ? 2.0 * dir : -2.0 * dir;
}

/* GridWorld-4x4: state s = x + 4 y (argmax of the one-hot observation); moves x+1, x-1, y+1,
 * y-1; blocked moves stay. The preference of a move is minus the BFS distance to the goal (3, 3)
 * from where it leads, the -10 cell (1, 1) excluded. */
#define GRID      4
#define GRID_BAD  (1 + GRID * 1)
#define GRID_GOAL (3 + GRID * 3)

static int32_t grid_move(int32_t s, int32_t a) {
    int32_t x = s % GRID, y = s / GRID;
    static const int32_t dx[4] = {1, -1, 0, 0}, dy[4] = {0, 0, 1, -1};
    int32_t nx = x + dx[a], ny = y + dy[a];
    if (nx < 0 || nx >= GRID || ny < 0 || ny >= GRID) return s;
    return nx + GRID * ny;
}

/* BFS distances to the goal over the grid without the bad cell: dist (16), -1 unreachable */
static void grid_distances(int32_t *dist) {
    int32_t queue[GRID * GRID], head = 0, tail = 0;
    for (int32_t s = 0; s < GRID * GRID; s++) dist[s] = -1;
    dist[GRID_GOAL] = 0;
    queue[tail++] = GRID_GOAL;
    while (head < tail) {
        int32_t s = queue[head++];
        /* moves are symmetric, so the predecessors of s are its neighbours */
        for (int32_t a = 0; a < 4; a++) {
            int32_t t = grid_move(s, a);
            if (t == s || t == GRID_BAD || dist[t] >= 0) continue;
            dist[t] = dist[s] + 1;
            queue[tail++] = t;
        }
    }
}

static void gridworld_pref(const env_entry *e, const float *obs, double *pref) {
    (void)e;
    int32_t dist[GRID * GRID];
    grid_distances(dist);
    int32_t s = 0;
    for (int32_t i = 1; i < GRID * GRID; i++)
        if (obs[i] > obs[s]) s = i;
    for (int32_t a = 0; a < 4; a++) {
        int32_t t = grid_move(s, a);
        pref[a] = t == GRID_BAD || dist[t] < 0 ? -1e9 : -(double)dist[t];
    }
}

/* PointMaze (eval/pointmaze.c, docs/environments.md): cell (row r, column c) is the unit square
 * [c, c+1) x [r, r+1), so x follows the column and y the row; the goal is the centre of the 'G'
 * cell. The maps are copies of pointmaze.c's and must agree with them (the tests check that
 * the expert reaches the goal). */
static const maze_layout umaze = {5, 5, {"#####", "#S..#", "###.#", "#G..#", "#####"}};
static const maze_layout medium_maze = {8,
                                        8,
                                        {"########", "#S.#...#", "#..#.#.#", "##...#.#", "#..#...#",
                                         "#.##.#.#", "#...#.G#", "########"}};

static int maze_free(const maze_layout *m, int32_t row, int32_t col) {
    return row >= 0 && row < m->rows && col >= 0 && col < m->cols && m->cells[row][col] != '#';
}

/* the index (row * cols + column) of the maze's 'G' cell */
static int32_t maze_goal_cell(const maze_layout *m) {
    for (int32_t i = 0; i < m->rows * m->cols; i++)
        if (m->cells[i / m->cols][i % m->cols] == 'G') return i;
    return 0;
}

/* BFS distances (rows, cols) to cell goal, -1 for walls and unreachable cells */
static void maze_distances(const maze_layout *m, int32_t goal, int32_t *dist) {
    int32_t queue[MAZE_MAX * MAZE_MAX], head = 0, tail = 0;
    static const int32_t dr[4] = {0, 0, 1, -1}, dc[4] = {1, -1, 0, 0};
    for (int32_t i = 0; i < m->rows * m->cols; i++) dist[i] = -1;
    dist[goal] = 0;
    queue[tail++] = goal;
    while (head < tail) {
        int32_t c = queue[head++], r = c / m->cols, k = c % m->cols;
        for (int32_t d = 0; d < 4; d++) {
            int32_t nr = r + dr[d], nk = k + dc[d];
            if (!maze_free(m, nr, nk) || dist[nr * m->cols + nk] >= 0) continue;
            dist[nr * m->cols + nk] = dist[c] + 1;
            queue[tail++] = nr * m->cols + nk;
        }
    }
}

/* the target is the centre of the neighbouring cell one step closer to the goal cell of the
 * BFS distances dist (the goal cell's centre in the goal cell); a PD law steers the point mass
 * (force 5 N per unit action, drag 1 N s/m) toward it */
static void maze_steer(const maze_layout *m, const int32_t *dist, const float *obs, double *act) {
    double x = (double)obs[0], y = (double)obs[1], vx = (double)obs[2], vy = (double)obs[3];
    int32_t col = (int32_t)floor(x), row = (int32_t)floor(y);
    if (col < 0) col = 0;
    if (col >= m->cols) col = m->cols - 1;
    if (row < 0) row = 0;
    if (row >= m->rows) row = m->rows - 1;
    double tx = col + 0.5, ty = row + 0.5;
    int32_t here = dist[row * m->cols + col];
    if (here > 0) {
        static const int32_t dr[4] = {0, 0, 1, -1}, dc[4] = {1, -1, 0, 0};
        for (int32_t d = 0; d < 4; d++) {
            int32_t nr = row + dr[d], nk = col + dc[d];
            if (maze_free(m, nr, nk) && dist[nr * m->cols + nk] == here - 1) {
                tx = nk + 0.5;
                ty = nr + 0.5;
                break;
            }
        }
    }
    act[0] = MAZE_KP * (tx - x) - MAZE_KD * vx;
    act[1] = MAZE_KP * (ty - y) - MAZE_KD * vy;
}

/* the expert: steers to the 'G' cell */
static void pointmaze_control(const env_entry *e, const float *obs, double *act) {
    int32_t dist[MAZE_MAX * MAZE_MAX];
    maze_distances(e->maze, maze_goal_cell(e->maze), dist);
    maze_steer(e->maze, dist, obs, act);
}

#define CONTINUOUS(lo, hi) .act_dim = 1, .n_actions = 0, .low = {lo}, .high = {hi}
#define MAZE_ENTRY(name, layout, noise)                                                            \
    {                                                                                              \
        .id = name, .obs_dim = 4, .act_dim = 2, .n_actions = 0, .low = {-1.0f, -1.0f},             \
        .high = {1.0f, 1.0f}, .medium = noise, .control = pointmaze_control, .maze = &layout       \
    }

/* an environment without a controller: the random level only (no medium noise) */
#define RANDOM_ONLY(name, S, A, lo, hi)                                                            \
    {                                                                                              \
        .id = name, .obs_dim = S, .act_dim = A, .n_actions = 0,                                    \
        .low = {lo, lo, lo, lo, lo, lo, lo, lo}, .high = {hi, hi, hi, hi, hi, hi, hi, hi},         \
        .medium = NAN                                                                              \
    }

/* The medium noise of each environment, tuned so that medium's mean return lies a third to a
 * half of the way from random to expert. Measured over 50 episodes (environment seeds 1..50,
 * policy rng seed 1234 stream 7; tests/test_behavior.c repeats it), mean (standard error):
 *   environment                 noise  random            medium           expert
 *   CartPole-v1                 0.5    21.96 (1.64)      213.82 (20.76)   500.00 (0)
 *   Acrobot-v1                  0.8    -497.88 (1.76)    -309.20 (12.16)  -79.30 (2.48)
 *   MountainCar-v0              0.3    -200.00 (0)       -166.32 (3.35)   -119.50 (0.52)
 *   Pendulum-v1                 0.65   -1194.77 (45.69)  -718.43 (23.01)  -147.72 (13.82)
 *   MountainCarContinuous-v0    0.83   -33.42 (0.13)     24.70 (7.82)     95.48 (0.13)
 *   GridWorld-4x4               0.9    4.44 (12.75)      41.86 (8.67)     95.70 (0.25)
 *   PointMaze-UMaze             0.85   9.60 (3.99)       136.64 (5.93)    269.62 (0.12)
 *   PointMaze-UMaze-Dense       0.85   44.19 (3.87)      139.86 (4.05)    259.36 (0.16)
 *   PointMaze-Medium            0.85   4.72 (2.90)       230.38 (9.70)    548.50 (0.23)
 *   PointMaze-Medium-Dense      0.85   15.08 (4.54)      247.41 (7.95)    523.54 (0.29) */
static const env_entry envs[] = {
    {.id = "CartPole-v1",
     .obs_dim = 4,
     .act_dim = 1,
     .n_actions = 2,
     .medium = 0.5,
     .prefer = cartpole_pref},
    {.id = "Acrobot-v1",
     .obs_dim = 6,
     .act_dim = 1,
     .n_actions = 3,
     .medium = 0.8,
     .prefer = acrobot_pref},
    {.id = "MountainCar-v0",
     .obs_dim = 2,
     .act_dim = 1,
     .n_actions = 3,
     .medium = 0.3,
     .prefer = mountaincar_pref},
    {.id = "Pendulum-v1",
     .obs_dim = 3,
     CONTINUOUS(-2.0f, 2.0f),
     .medium = 0.65,
     .control = pendulum_control},
    {.id = "MountainCarContinuous-v0",
     .obs_dim = 2,
     CONTINUOUS(-1.0f, 1.0f),
     .medium = 0.83,
     .control = mountaincar_continuous_control},
    {.id = "GridWorld-4x4",
     .obs_dim = 16,
     .act_dim = 1,
     .n_actions = 4,
     .medium = 0.9,
     .prefer = gridworld_pref},
    MAZE_ENTRY("PointMaze-UMaze", umaze, 0.85),
    MAZE_ENTRY("PointMaze-UMaze-Dense", umaze, 0.85),
    MAZE_ENTRY("PointMaze-Medium", medium_maze, 0.85),
    MAZE_ENTRY("PointMaze-Medium-Dense", medium_maze, 0.85),
#ifdef ORL_WITH_MUJOCO
    RANDOM_ONLY("Hopper-v4", 11, 3, -1.0f, 1.0f),
    RANDOM_ONLY("HalfCheetah-v4", 17, 6, -1.0f, 1.0f),
    RANDOM_ONLY("Walker2d-v4", 17, 6, -1.0f, 1.0f),
    RANDOM_ONLY("Ant-v4", 27, 8, -1.0f, 1.0f),
    RANDOM_ONLY("Reacher-v4", 11, 2, -1.0f, 1.0f),
    RANDOM_ONLY("Pusher-v4", 23, 7, -2.0f, 2.0f),
#endif
};

#define N_ENVS ((int32_t)(sizeof envs / sizeof envs[0]))

static const env_entry *find_env(const char *id, size_t len) {
    for (int32_t i = 0; i < N_ENVS; i++)
        if (strlen(envs[i].id) == len && strncmp(envs[i].id, id, len) == 0) return &envs[i];
    return NULL;
}

double orl_behavior_medium_noise(const char *env_id) {
    const env_entry *e = env_id ? find_env(env_id, strlen(env_id)) : NULL;
    return e ? e->medium : NAN;
}

/* ---- the policy ---- */

typedef struct behavior {
    const env_entry *env;
    char level[LEVEL_CAP]; /* "expert", "medium", "random" or "noise=X" */
    double noise;          /* X in [0, 1] */
    double eps;            /* the uniform part's weight: EPS_MIN + (1 - EPS_MIN) X */
    double log_uniform;    /* log of the uniform part's mass or density */
    int diverse;           /* PointMaze "diverse": waypoints to random goal cells (see below) */
} behavior;

/* the one allocation: the policy, the behaviour, the config text, the bounds */
typedef struct behavior_block {
    orl_policy policy;
    behavior b;
    char config[CONFIG_CAP];
    float low[MAX_A];
    float high[MAX_A];
} behavior_block;

/* the per-rollout state: only the diverse level has one (its current waypoint goal) */
typedef struct behavior_work {
    int32_t max_batch;
    int started;                       /* a goal was drawn since the work was made */
    orl_rng left;                      /* the policy rng as the last act left it */
    int32_t goal;                      /* the current goal cell (row * cols + column) */
    int32_t dist[MAZE_MAX * MAZE_MAX]; /* (rows, cols) BFS distances to it */
} behavior_work;

static const behavior *behavior_of(const orl_policy *p) {
    return (const behavior *)p->impl;
}

static orl_status behavior_work_create(const orl_policy *p, int32_t max_batch, void **scratch) {
    behavior_work *w = calloc(1, sizeof *w);
    if (!w) ORL_FAIL(ORL_ERR_NOMEM, "behaviour policy work");
    w->max_batch = max_batch;
    /* until a diverse policy draws its first goal, its goal is the evaluation goal */
    const maze_layout *m = behavior_of(p)->env->maze;
    if (m) {
        w->goal = maze_goal_cell(m);
        maze_distances(m, w->goal, w->dist);
    }
    *scratch = w;
    return ORL_OK;
}

static void behavior_work_free(void *scratch) {
    free(scratch);
}

/* discrete: the mixture's log-masses logp (n) at obs; *best receives the first best action */
static void discrete_logp_all(const behavior *b, const float *obs, double *logp, int32_t *best) {
    const env_entry *e = b->env;
    double pref[MAX_N];
    e->prefer(e, obs, pref);
    int32_t n = e->n_actions, first = 0, n_best = 0;
    for (int32_t a = 1; a < n; a++)
        if (pref[a] > pref[first]) first = a;
    for (int32_t a = 0; a < n; a++) n_best += pref[a] == pref[first];
    for (int32_t a = 0; a < n; a++) {
        double mass = b->eps / n + (pref[a] == pref[first] ? (1.0 - b->eps) / n_best : 0.0);
        logp[a] = log(mass);
    }
    *best = first;
}

/* continuous: the controller's pre-squash mean mu (A) at obs (the diverse level steers to the
 * work's goal cell) */
static void continuous_mean(const behavior *b, const behavior_work *w, const float *obs,
                            double *mu) {
    const env_entry *e = b->env;
    double target[MAX_A];
    if (!e->control) {
        /* no controller: only the random level, whose density does not use the mean */
        for (int32_t j = 0; j < e->act_dim; j++) mu[j] = 0.0;
        return;
    }
    if (b->diverse)
        maze_steer(e->maze, w->dist, obs, target);
    else
        e->control(e, obs, target);
    for (int32_t j = 0; j < e->act_dim; j++) {
        double c = 0.5 * ((double)e->high[j] + (double)e->low[j]);
        double s = 0.5 * ((double)e->high[j] - (double)e->low[j]);
        double y = clampd((target[j] - c) / s, -ORL_BEHAVIOR_MEAN_CLIP, ORL_BEHAVIOR_MEAN_CLIP);
        mu[j] = atanh(y);
    }
}

/* continuous: the mixture's log-density at act (A) given the pre-squash mean mu (A).
 * q(a) = prod_j N(z_j; mu_j, sigma) / (s_j (1 - y_j^2)), y_j = (a_j - c_j) / s_j clipped to
 * +-ORL_TANH_CLIP as heads.h does, z_j = atanh(y_j); zero outside the box. */
static double continuous_logp(const behavior *b, const double *mu, const float *act) {
    const env_entry *e = b->env;
    double log_q = 0.0;
    int inside = 1;
    for (int32_t j = 0; j < e->act_dim; j++) {
        double lo = (double)e->low[j], hi = (double)e->high[j], a = (double)act[j];
        if (a < lo || a > hi) inside = 0;
        double c = 0.5 * (hi + lo), s = 0.5 * (hi - lo);
        double y = clampd((a - c) / s, -ORL_TANH_CLIP, ORL_TANH_CLIP);
        double z = atanh(y), d = (z - mu[j]) / ORL_BEHAVIOR_SIGMA;
        log_q +=
            -0.5 * d * d - log(ORL_BEHAVIOR_SIGMA) - 0.5 * log(2.0 * PI) - log(s) - log1p(-y * y);
    }
    if (!inside) return -INFINITY;
    /* log((1 - eps) q + eps u), in log space */
    double log_u = log(b->eps) + b->log_uniform;
    if (b->eps >= 1.0) return log_u;
    double log_g = log1p(-b->eps) + log_q;
    double top = log_g > log_u ? log_g : log_u;
    return top + log(exp(log_g - top) + exp(log_u - top));
}

/* one action for obs: sampled (rng not NULL) or the controller's (rng NULL); logp may be NULL */
static void act_one(const behavior *b, const behavior_work *w, const float *obs, orl_rng *rng,
                    float *act, int32_t *act_idx, double *logp) {
    const env_entry *e = b->env;
    if (e->n_actions > 0) {
        double lp[MAX_N];
        int32_t best;
        discrete_logp_all(b, obs, lp, &best);
        int32_t a = best;
        if (rng) {
            double p[MAX_N];
            for (int32_t k = 0; k < e->n_actions; k++) p[k] = exp(lp[k]);
            a = orl_rng_categorical(rng, p, e->n_actions);
        }
        *act_idx = a;
        if (logp) *logp = lp[a];
        return;
    }
    double mu[MAX_A];
    continuous_mean(b, w, obs, mu);
    /* one uniform decides the mixture component, then the component's draws */
    int uniform = rng && orl_rng_uniform(rng) < b->eps;
    for (int32_t j = 0; j < e->act_dim; j++) {
        double lo = (double)e->low[j], hi = (double)e->high[j];
        double c = 0.5 * (hi + lo), s = 0.5 * (hi - lo), a;
        if (!rng)
            a = c + s * tanh(mu[j]);
        else if (uniform)
            a = lo + (hi - lo) * orl_rng_uniform(rng);
        else
            a = c + s * tanh(mu[j] + ORL_BEHAVIOR_SIGMA * orl_rng_normal(rng));
        float af = (float)a;
        /* rounding to float must not leave the box */
        if (af < e->low[j]) af = e->low[j];
        if (af > e->high[j]) af = e->high[j];
        act[j] = af;
    }
    if (logp) *logp = continuous_logp(b, mu, act);
}

/* The diverse level's goal. A new episode is recognised by the policy rng not being where the
 * last act left it (a rollout reseeds it per episode); the episode's first goal, and a new one
 * whenever the point is within DIVERSE_REACH of the goal cell's centre, is drawn uniformly
 * from the open cells other than the current goal (and, at an episode's start, other than the
 * cell the point is in). Without an rng the goal stays where it is. */
static void diverse_goal(const behavior *b, behavior_work *w, const float *obs, orl_rng *rng) {
    const maze_layout *m = b->env->maze;
    if (!rng) return;
    int fresh = !w->started || w->left.state != rng->state || w->left.inc != rng->inc;
    int32_t cols = m->cols, goal = w->goal;
    double gx = goal % cols + 0.5, gy = goal / cols + 0.5;
    if (!fresh && hypot((double)obs[0] - gx, (double)obs[1] - gy) > DIVERSE_REACH) return;
    int32_t here = (int32_t)floor((double)obs[1]) * cols + (int32_t)floor((double)obs[0]);
    int32_t open[MAZE_MAX * MAZE_MAX], n = 0;
    for (int32_t i = 0; i < m->rows * cols; i++)
        if (maze_free(m, i / cols, i % cols) && i != goal && !(fresh && i == here)) open[n++] = i;
    w->goal = open[orl_rng_below(rng, (uint32_t)n)];
    maze_distances(m, w->goal, w->dist);
    w->started = 1;
}

static orl_status behavior_act(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                               orl_policy_mode mode, orl_rng *rng, float *act, int32_t *act_idx) {
    behavior_work *w = scratch;
    const behavior *b = behavior_of(p);
    orl_rng *draw = mode == ORL_POLICY_MODE_SAMPLE ? rng : NULL;
    for (int32_t i = 0; i < batch; i++) {
        const float *o = obs + (size_t)i * (size_t)p->obs_dim;
        if (b->diverse) diverse_goal(b, w, o, rng);
        act_one(b, w, o, draw, act ? act + (size_t)i * (size_t)p->act_dim : NULL,
                act_idx ? act_idx + i : NULL, NULL);
    }
    if (b->diverse && rng) w->left = *rng;
    return ORL_OK;
}

static orl_status behavior_logp(const orl_policy *p, void *scratch, const float *obs, int32_t batch,
                                const float *act, const int32_t *act_idx, double *logp) {
    const behavior_work *w = scratch;
    const behavior *b = behavior_of(p);
    for (int32_t i = 0; i < batch; i++) {
        const float *o = obs + (size_t)i * (size_t)p->obs_dim;
        if (p->action_kind == ORL_ACTION_KIND_DISCRETE) {
            double lp[MAX_N];
            int32_t best;
            discrete_logp_all(b, o, lp, &best);
            logp[i] = lp[act_idx[i]];
        } else {
            double mu[MAX_A];
            continuous_mean(b, w, o, mu);
            logp[i] = continuous_logp(b, mu, act + (size_t)i * (size_t)p->act_dim);
        }
    }
    return ORL_OK;
}

orl_status orl_behavior_act_logp(const orl_policy *p, orl_policy_work *w, const float *obs,
                                 int32_t batch, orl_rng *rng, float *act, int32_t *act_idx,
                                 double *logp) {
    assert(p && logp);
    if (!orl_behavior_is(p))
        ORL_FAIL(ORL_ERR_INPUT,
                 "behaviour act_logp: policy '%s' is not a built-in behaviour policy",
                 p->algorithm);
    /* the interface's checks (batch, finite observations, outputs, rng) */
    ORL_TRY(orl_policy_act(p, w, obs, batch, ORL_POLICY_MODE_SAMPLE, rng, act, act_idx));
    /* act_one drew the actions already; recompute its log-probabilities for them (with the
     * work's goal, for the diverse level) */
    return orl_policy_logp(p, w, obs, batch, act, act_idx, logp);
}

static orl_status behavior_save(const orl_policy *p, orl_policy_file *f) {
    const behavior *b = behavior_of(p);
    char noise[64];
    snprintf(noise, sizeof noise, "%.17g", b->noise);
    ORL_TRY(orl_policy_file_put_text(f, "behavior_env", b->env->id));
    ORL_TRY(orl_policy_file_put_text(f, "behavior_level", b->level));
    ORL_TRY(orl_policy_file_put_text(f, "behavior_noise", noise));
    return ORL_OK;
}

static void behavior_free(orl_policy *p) {
    free(p);
}

static orl_status behavior_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out);

static const orl_policy_ops behavior_ops = {
    .type = "builtin",
    .work_create = behavior_work_create,
    .work_free = behavior_work_free,
    .act = behavior_act,
    .logp = behavior_logp,
    .save = behavior_save,
    .load = behavior_load,
    .free = behavior_free,
};

const orl_policy_ops *orl_behavior_ops(void) {
    return &behavior_ops;
}

int orl_behavior_is(const orl_policy *p) {
    return p && p->ops == &behavior_ops;
}

double orl_behavior_noise(const orl_policy *p) {
    return orl_behavior_is(p) ? behavior_of(p)->noise : NAN;
}

/* ---- construction ---- */

/* the error for an unknown name: every environment and level */
static orl_status unknown_name(const char *name, const char *why) {
    char known[1024] = "";
    size_t at = 0;
    for (int32_t i = 0; i < N_ENVS && at < sizeof known; i++)
        at += (size_t)snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "", envs[i].id);
    ORL_FAIL(ORL_ERR_INPUT,
             "behaviour policy '%s': %s; expected [builtin:]ENV/LEVEL with ENV one of %s and "
             "LEVEL one of random, medium, expert, noise=X (X in [0, 1]) or (PointMaze) diverse",
             name, why, known);
}

/* builds the policy for env at a level; noise is X */
static orl_status build(const env_entry *e, const char *level, double noise, orl_policy **out) {
    behavior_block *blk = calloc(1, sizeof *blk);
    if (!blk) ORL_FAIL(ORL_ERR_NOMEM, "behaviour policy");
    orl_policy *p = &blk->policy;
    behavior *b = &blk->b;
    b->env = e;
    snprintf(b->level, sizeof b->level, "%s", level);
    b->noise = noise;
    b->diverse = strcmp(level, "diverse") == 0;
    b->eps = ORL_BEHAVIOR_EPS_MIN + (1.0 - ORL_BEHAVIOR_EPS_MIN) * noise;
    if (noise >= 1.0) b->eps = 1.0;
    if (e->n_actions > 0)
        b->log_uniform = -log((double)e->n_actions);
    else
        for (int32_t j = 0; j < e->act_dim; j++)
            b->log_uniform -= log((double)e->high[j] - (double)e->low[j]);

    p->ops = &behavior_ops;
    p->impl = b;
    snprintf(p->algorithm, sizeof p->algorithm, "builtin");
    snprintf(blk->config, sizeof blk->config,
             "{\"env\": \"%s\", \"level\": \"%s\", \"noise\": %.6g}", e->id, level, noise);
    p->config_json = blk->config;
    p->obs_dim = e->obs_dim;
    p->act_dim = e->act_dim;
    p->n_actions = e->n_actions;
    p->deterministic = 0;
    if (e->n_actions > 0) {
        p->action_kind = ORL_ACTION_KIND_DISCRETE;
    } else {
        p->action_kind = ORL_ACTION_KIND_CONTINUOUS;
        memcpy(blk->low, e->low, sizeof blk->low);
        memcpy(blk->high, e->high, sizeof blk->high);
        p->act_low = blk->low;
        p->act_high = blk->high;
    }
    *out = p;
    return ORL_OK;
}

/* parses LEVEL into the level text and X; 0 when it is not a level (an environment without a
 * controller has the random level only) */
static int parse_level(const env_entry *e, const char *text, char *level, double *noise) {
    if (!e->prefer && !e->control && strcmp(text, "random") != 0) return 0;
    if (strcmp(text, "expert") == 0) {
        *noise = 0.0;
    } else if (strcmp(text, "random") == 0) {
        *noise = 1.0;
    } else if (strcmp(text, "medium") == 0) {
        *noise = e->medium;
    } else if (strcmp(text, "diverse") == 0 && e->maze) {
        *noise = DIVERSE_NOISE;
    } else if (strncmp(text, "noise=", 6) == 0) {
        char *end;
        const char *number = text + 6;
        *noise = strtod(number, &end);
        if (end == number || *end != '\0' || !(*noise >= 0.0 && *noise <= 1.0)) return 0;
    } else {
        return 0;
    }
    snprintf(level, LEVEL_CAP, "%s", text);
    return strlen(text) < LEVEL_CAP;
}

orl_status orl_behavior_create(const char *name, orl_policy **out) {
    assert(name && out);
    *out = NULL;
    const char *rest = strncmp(name, "builtin:", 8) == 0 ? name + 8 : name;
    const char *slash = strrchr(rest, '/');
    if (!slash) return unknown_name(name, "no '/' between the environment and the level");
    const env_entry *e = find_env(rest, (size_t)(slash - rest));
    if (!e) {
        char why[96];
        snprintf(why, sizeof why, "unknown environment '%.*s'", (int)(slash - rest), rest);
        return unknown_name(name, why);
    }
    /* the MuJoCo tasks' levels beyond random are policy files embedded into the library */
    if (!e->prefer && !e->control && strcmp(slash + 1, "random") != 0)
        return orl_policy_asset_open(e->id, slash + 1, out);
    char level[LEVEL_CAP];
    double noise;
    if (!parse_level(e, slash + 1, level, &noise)) {
        char why[96];
        if (!e->prefer && !e->control)
            snprintf(why, sizeof why, "no builtin controller for %s yet, only level random", e->id);
        else
            snprintf(why, sizeof why, "unknown level '%.40s'", slash + 1);
        return unknown_name(name, why);
    }
    return build(e, level, noise, out);
}

/* ---- loading ---- */

static orl_status behavior_load(orl_policy_file *f, const orl_policy_info *info, orl_policy **out) {
    const char *path = orl_policy_file_path(f);
    char env_id[ENV_ID_CAP], level[LEVEL_CAP], noise_text[64];
    ORL_TRY(orl_policy_file_get_text(f, "behavior_env", env_id, sizeof env_id));
    ORL_TRY(orl_policy_file_get_text(f, "behavior_level", level, sizeof level));
    ORL_TRY(orl_policy_file_get_text(f, "behavior_noise", noise_text, sizeof noise_text));
    const env_entry *e = find_env(env_id, strlen(env_id));
    if (!e)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'behavior_env': unknown environment '%s'", path, env_id);
    char *end;
    double noise = strtod(noise_text, &end);
    if (end == noise_text || *end != '\0' || !(noise >= 0.0 && noise <= 1.0))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'behavior_noise': '%s' is not a number in [0, 1]", path,
                 noise_text);
    /* the level names the noise, except that medium keeps the noise it was made with */
    char parsed[LEVEL_CAP];
    double level_noise;
    if (!parse_level(e, level, parsed, &level_noise))
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'behavior_level': unknown level '%s'", path, level);
    if (strcmp(level, "medium") != 0 && strcmp(level, "diverse") != 0 && level_noise != noise)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'behavior_noise': %s does not match level '%s'", path,
                 noise_text, level);
    /* the common keys must describe the environment's policy */
    int discrete = e->n_actions > 0;
    if (info->obs_dim != e->obs_dim || info->act_dim != e->act_dim ||
        info->n_actions != e->n_actions ||
        (info->action_kind == ORL_ACTION_KIND_DISCRETE) != discrete)
        ORL_FAIL(ORL_ERR_FORMAT,
                 "%s: the shapes (obs_dim %d, act_dim %d, n_actions %d) are not those of %s "
                 "(%d, %d, %d)",
                 path, info->obs_dim, info->act_dim, info->n_actions, e->id, e->obs_dim, e->act_dim,
                 e->n_actions);
    if (!discrete)
        for (int32_t j = 0; j < e->act_dim; j++)
            if (info->act_low[j] != e->low[j] || info->act_high[j] != e->high[j])
                ORL_FAIL(ORL_ERR_FORMAT,
                         "%s: key 'act_low'/'act_high': action %d bounds differ "
                         "from %s's",
                         path, j, e->id);
    if (strcmp(info->algorithm, "builtin") != 0)
        ORL_FAIL(ORL_ERR_FORMAT, "%s: key 'algorithm': '%s', expected 'builtin'", path,
                 info->algorithm);
    return build(e, level, noise, out);
}

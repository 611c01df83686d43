/* MuJoCo tasks (Hopper-v4, HalfCheetah-v4, Walker2d-v4, Ant-v4, Reacher-v4, Pusher-v4; see
 * env.h for the interface they share and docs/environments.md for their definitions): what the
 * generic interface does not carry, the simulator's joint positions, for replaying an episode
 * in a plot or in MuJoCo's own tools. MuJoCo's types never appear here. */
#ifndef ORL_MUJOCO_H
#define ORL_MUJOCO_H

#include "orl/policy.h"
#include "orl/status.h"

#include <stdint.h>

/* 1 when the library was built with the MuJoCo tasks (ORL_WITH_MUJOCO), else 0 */
int orl_mujoco_built(void);

/* runs one episode of p on the MuJoCo task env_id — the first episode orl_eval runs with the
 * same seed and mode, so the same actions and states — and writes its joint positions as CSV
 * to path (written whole or not at all): a header row
 *   step,time,reward,<qpos columns>
 * then the initial state (step 0, reward empty) and the state after each step. qpos columns are
 * named by joint: a hinge or slide joint by its name; a free joint NAME as NAME_x, NAME_y,
 * NAME_z, NAME_qw, NAME_qx, NAME_qy, NAME_qz; a ball joint NAME_qw .. NAME_qz; an unnamed joint
 * as joint<index>. Setting MuJoCo's qpos to a row's values (the model's joint order) and
 * calling mj_forward reproduces that state. steps (may be NULL) receives the episode's length.
 * ORL_ERR_INPUT for an environment that is not a MuJoCo task or a policy whose shapes differ
 * from it; ORL_ERR_UNSUPPORTED in a build without the MuJoCo tasks; ORL_ERR_IO when path cannot
 * be written; the policy's own statuses. */
orl_status orl_mujoco_trajectory_csv(const orl_policy *p, const char *env_id, orl_policy_mode mode,
                                     uint64_t seed, const char *path, int32_t *steps);

#endif

#!/usr/bin/python3
"""Writes examples/pusher.csv: a robot-arm log made in simulation, for the log story
(orl ingest -> orl train -> orl eval --env Pusher-v4; README, docs/environments.md).

    /usr/bin/python3 scripts/make-pusher-log.py [--orl build/orl] [--out examples/pusher.csv]

It runs `orl gen --env Pusher-v4 --behavior expert --episodes 20 --seed 0` (the SAC policy
embedded from assets/policies/Pusher-v4-expert.h5; 20 episodes of 100 steps = 2,000 rows) and
writes the dataset as a robot logger would: one row per control step at the environment's
dt = 0.05 s (20 Hz), with named columns
    timestamp, episode,
    qpos_<joint> (rad), qvel_<joint> (rad/s) for the 7 joints r_shoulder_pan, r_shoulder_lift,
        r_upper_arm_roll, r_elbow_flex, r_forearm_roll, r_wrist_flex, r_wrist_roll,
    fingertip_{x,y,z}, object_{x,y,z}, goal_{x,y,z} (m, world frame),
    torque_<joint> (the commanded torques, in [-2, 2]),
    reward, done (the task ended: never for Pusher), truncated (the 100-step time limit).
The clock runs on between episodes with a 3 s reset pause. Numbers are the shortest text that
reads back as the same float32, so `orl ingest` recovers the generated observations bit for
bit (tests/test_pusher_story.c checks them against the environment's resets).
examples/pusher.map (the mapping) is written by hand. Needs h5py (/usr/bin/python3 has it)."""

import argparse
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

JOINTS = ["r_shoulder_pan", "r_shoulder_lift", "r_upper_arm_roll", "r_elbow_flex",
          "r_forearm_roll", "r_wrist_flex", "r_wrist_roll"]
DT = 0.05
EPISODES = 20
T0 = 1718000000.0
PAUSE = 3.0


def text(x):
    """the shortest decimal that reads back as the same float32"""
    return np.format_float_positional(np.float32(x), unique=True, trim="-")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--orl", default="build/orl")
    ap.add_argument("--out", default="examples/pusher.csv")
    ap.add_argument("--behavior", default="expert")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        h5 = os.path.join(tmp, "pusher.h5")
        subprocess.run([args.orl, "gen", "--env", "Pusher-v4", "--behavior", args.behavior,
                        "--episodes", str(EPISODES), "--seed", "0", "-o", h5], check=True)
        with h5py.File(h5, "r") as f:
            obs = f["observations"][:]
            act = f["actions"][:]
            rew = f["rewards"][:]
            term = f["terminals"][:]
            tout = f["timeouts"][:]
    header = (["timestamp", "episode"] + ["qpos_" + j for j in JOINTS] +
              ["qvel_" + j for j in JOINTS] +
              [f"{b}_{c}" for b in ("fingertip", "object", "goal") for c in "xyz"] +
              ["torque_" + j for j in JOINTS] + ["reward", "done", "truncated"])
    rows = [",".join(header)]
    episode, step, t = 0, 0, T0
    for i in range(len(rew)):
        row = [f"{t + step * DT:.2f}", str(episode)]
        row += [text(x) for x in obs[i]] + [text(x) for x in act[i]]
        row += [text(rew[i]), str(int(term[i])), str(int(tout[i]))]
        rows.append(",".join(row))
        step += 1
        if term[i] or tout[i]:
            t += step * DT + PAUSE
            episode, step = episode + 1, 0
    with open(args.out, "w") as f:
        f.write("\n".join(rows) + "\n")
    print(f"{args.out}: {len(rew)} rows in {episode} episodes", file=sys.stderr)


if __name__ == "__main__":
    main()

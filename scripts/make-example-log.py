#!/usr/bin/env python3
"""Writes the example robot logs in examples/: a 7-joint arm reaching for targets.

    python3 scripts/make-example-log.py [--out-dir examples] [--seed 7]

examples/arm.csv    3,000 rows at 100 Hz in 12 episodes, as a robot logger writes them:
                    timestamp, episode, joint_pos_0..6 (rad), joint_vel_0..6 (rad/s),
                    cmd_0..6 (commanded joint velocities, rad/s), reward, done, truncated.
                    An episode ends with done = 1 when the arm reaches its target, or with
                    truncated = 1 at the time limit; the clock keeps running between episodes
                    with a reset pause of a few seconds, so --episode-gap finds the same
                    episodes as the episode column.
examples/arm.jsonl  the first two episodes as JSON Lines with nested keys:
                    {"t": ..., "episode": ..., "obs": {"q": [7], "qd": [7]}, "act": [7],
                     "reward": ..., "done": false, "truncated": false}
examples/arm.map    the mapping for arm.csv (written by hand, not by this script).

Standard library only; the same seed writes the same bytes."""

import argparse
import json
import math
import os
import random

JOINTS = 7
RATE_HZ = 100
EPISODES = 12
ROWS = 3000
LIMITS = [2.9, 1.7, 2.9, 3.0, 2.9, 3.7, 2.9]  # joint position limits (rad)
MAX_VEL = 2.0  # commanded velocity limit (rad/s)
REACHED = 0.05  # distance to the target that ends an episode (rad)


def episode_lengths(rng):
    """12 lengths around 250 that add up to ROWS."""
    lengths = [rng.randint(200, 300) for _ in range(EPISODES)]
    lengths[-1] += ROWS - sum(lengths)
    return lengths


def run_episode(rng, episode, length, t0):
    """Rows of one episode: a noisy proportional controller drives the arm to a target."""
    q = [rng.uniform(-0.5, 0.5) * lim for lim in LIMITS]
    target = [rng.uniform(-0.6, 0.6) * lim for lim in LIMITS]
    gain = rng.uniform(0.8, 2.5)
    qd = [0.0] * JOINTS
    dt = 1.0 / RATE_HZ
    rows = []
    for step in range(length):
        dist = math.sqrt(sum((a - b) ** 2 for a, b in zip(q, target)))
        cmd = []
        for j in range(JOINTS):
            c = gain * (target[j] - q[j]) + rng.gauss(0.0, 0.05)
            cmd.append(max(-MAX_VEL, min(MAX_VEL, c)))
        reached = dist < REACHED
        last = step == length - 1
        rows.append({
            "t": t0 + step * dt,
            "episode": episode,
            "q": list(q),
            "qd": list(qd),
            "cmd": cmd,
            "reward": -dist + (10.0 if reached else 0.0),
            "done": reached,
            "truncated": last and not reached,
        })
        if reached:
            break
        # first-order joints: the velocity follows the command, the position integrates it
        for j in range(JOINTS):
            qd[j] += 0.5 * (cmd[j] - qd[j]) + rng.gauss(0.0, 0.01)
            q[j] = max(-LIMITS[j], min(LIMITS[j], q[j] + qd[j] * dt))
    return rows


def fmt(x):
    return "%.6f" % x


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    parser.add_argument("--out-dir", default=os.path.join(here, "..", "examples"))
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out_dir, exist_ok=True)

    episodes = []
    t = 1718000000.0
    for e, length in enumerate(episode_lengths(rng)):
        rows = run_episode(rng, e, length, t)
        episodes.append(rows)
        t = rows[-1]["t"] + rng.uniform(3.0, 8.0)  # the reset pause between episodes

    header = (["timestamp", "episode"] + ["joint_pos_%d" % j for j in range(JOINTS)]
              + ["joint_vel_%d" % j for j in range(JOINTS)] + ["cmd_%d" % j for j in range(JOINTS)]
              + ["reward", "done", "truncated"])
    with open(os.path.join(args.out_dir, "arm.csv"), "w", newline="\n") as f:
        f.write(",".join(header) + "\n")
        for rows in episodes:
            for r in rows:
                cells = (["%.3f" % r["t"], str(r["episode"])] + [fmt(v) for v in r["q"]]
                         + [fmt(v) for v in r["qd"]] + [fmt(v) for v in r["cmd"]]
                         + [fmt(r["reward"]), str(int(r["done"])), str(int(r["truncated"]))])
                f.write(",".join(cells) + "\n")

    with open(os.path.join(args.out_dir, "arm.jsonl"), "w", newline="\n") as f:
        for rows in episodes[:2]:
            for r in rows:
                line = {
                    "t": round(r["t"], 3),
                    "episode": r["episode"],
                    "obs": {"q": [round(v, 6) for v in r["q"]],
                            "qd": [round(v, 6) for v in r["qd"]]},
                    "act": [round(v, 6) for v in r["cmd"]],
                    "reward": round(r["reward"], 6),
                    "done": r["done"],
                    "truncated": r["truncated"],
                }
                f.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()

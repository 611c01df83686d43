#!/usr/bin/env python3
"""bench/ris_oracle.py: how good could any RIS behaviour model be on Pendulum medium-replay?

Issue 13 asks that RIS-WIS (the behaviour estimated from the data) be no worse than WIS with the
true behaviour probabilities on Pendulum medium-replay. This bench bounds what a behaviour model
can achieve there, by giving the estimators the exact behaviour family instead of a fitted one:

  logged        WIS with the logged (true, per-episode) behaviour probabilities
  step-mixture  the best per-step model: the exact marginal of the data's behaviour at each
                step, log sum_k w_k pi_k(a|s) over the five noise levels the data was made with
                (w_k their shares); what a perfect state-conditional density fit converges to
  episode-mix   the exact episode-level mixture sum_k w_k prod_t pi_k(a_t|s_t) (multiple
                importance sampling with the balance heuristic): the best a model with a
                per-episode latent could do
  ris           orl's RIS-WIS (the fitted MLP mixture, ope.h defaults)

Data: orl gen Pendulum-v1 medium-replay, 200 episodes, seed 1 (as bench/ope_policies).
Evaluation policies: the builtin behaviours at noise 0, 0.25, 0.5, 0.75, 1. Truth: the mean
discounted (gamma 0.99) return of 300 on-policy episodes (seed 1000).

Prints one JSON line per (policy, estimator) and a summary line with the mean relative error per
estimator. Needs the Python binding (python/orl) and liborl: run from the build directory as
  ORL_LIBRARY=build/liborl.so PYTHONPATH=python /usr/bin/python3 bench/ris_oracle.py
"""
import ctypes
import json
import os
import sys
import tempfile

import numpy as np

import orl

GAMMA = 0.99
ENV = "Pendulum-v1"
EVAL_NOISE = (0.0, 0.25, 0.5, 0.75, 1.0)
TRUTH_EPISODES = 300


def episodes(d):
    end = np.where(d["terminals"] | d["timeouts"])[0]
    return np.r_[0, end[:-1] + 1], end


def discounted(d):
    r = d["rewards"].astype(np.float64)
    return np.array([np.sum(r[s:e + 1] * GAMMA ** np.arange(e - s + 1))
                     for s, e in zip(*episodes(d))])


def logsumexp(a, axis):
    top = a.max(axis=axis, keepdims=True)
    return (top + np.log(np.exp(a - top).sum(axis=axis, keepdims=True))).squeeze(axis)


def wis(log_w, returns):
    w = np.exp(log_w - log_w.max())
    return float(np.sum(w * returns) / w.sum()), float(w.sum() ** 2 / np.sum(w * w))


def main():
    lib = orl._capi.lib
    lib.orl_behavior_medium_noise.restype = ctypes.c_double
    lib.orl_behavior_medium_noise.argtypes = [ctypes.c_char_p]
    m = lib.orl_behavior_medium_noise(ENV.encode())
    stages = 5  # ORL_GEN_MEDIUM_REPLAY_STAGES: noise 1 down to medium
    levels = [1.0 + (m - 1.0) * k / (stages - 1) for k in range(stages - 1)] + [m]
    tmp = tempfile.mkdtemp(prefix="orl-ris-oracle-")
    path = os.path.join(tmp, "mr.h5")
    d = orl.read(orl.gen(ENV, "medium-replay", path, episodes=200, seed=1))
    obs, act = d["observations"], d["actions"]
    logged = d["infos/action_log_probs"].astype(np.float64)
    start, end = episodes(d)
    E = len(start)
    step_ep = np.concatenate([np.full(e - s + 1, i) for i, (s, e) in enumerate(zip(start, end))])

    def per_episode(x):
        return np.bincount(step_ep, weights=x, minlength=E)

    returns = discounted(d)
    lb = np.stack([orl.Policy(f"builtin:{ENV}/noise={x:.6g}").log_prob(obs, act) for x in levels])
    own = np.array([np.argmin([np.abs(lb[k, s:e + 1] - logged[s:e + 1]).max()
                               for k in range(stages)]) for s, e in zip(start, end)])
    share = np.bincount(own, minlength=stages) / E
    behaviour = {
        "logged": per_episode(logged),
        "step-mixture": per_episode(logsumexp(lb + np.log(share)[:, None], axis=0)),
        "episode-mix": logsumexp(np.stack([per_episode(lb[k]) for k in range(stages)])
                                 + np.log(share)[:, None], axis=0),
    }
    errors = {name: [] for name in list(behaviour) + ["ris"]}
    for x in EVAL_NOISE:
        name = f"builtin:{ENV}/noise={x:.6g}"
        on = orl.read(orl.gen(ENV, name, os.path.join(tmp, "on.h5"), episodes=TRUTH_EPISODES,
                              seed=1000))
        truth = float(discounted(on).mean())
        log_e = per_episode(orl.Policy(name).log_prob(obs, act))
        rows = {b: wis(log_e - lb_ep, returns) for b, lb_ep in behaviour.items()}
        est = orl.ope(name, path, estimators="ris-wis", bootstrap=10)["policies"][0]["estimates"][0]
        rows["ris"] = (est["estimate"], est["ess"])
        for b, (value, ess) in rows.items():
            rel = abs(value - truth) / abs(truth)
            errors[b].append(rel)
            print(json.dumps({"policy": name, "truth": round(truth, 3), "estimator": b,
                              "wis": round(value, 3), "relative_error": round(rel, 4),
                              "ess": round(ess, 2)}))
    print(json.dumps({"summary": "mean relative error over the five policies",
                      "levels": [round(v, 4) for v in levels], "shares": share.tolist(),
                      **{b: round(float(np.mean(v)), 4) for b, v in errors.items()}}))
    os.remove(path)
    os.remove(os.path.join(tmp, "on.h5"))
    os.rmdir(tmp)


if __name__ == "__main__":
    sys.exit(main())

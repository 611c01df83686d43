#!/usr/bin/python3
"""h5py side of tests/test_hdf5.c.

  h5py_check.py make CASE PATH     write a D4RL-style file the way h5py users (and D4RL's own
                                   scripts) write them; test_hdf5.c knows what each CASE holds
  h5py_check.py check PATH DIR     read a file orl wrote, with h5py and D4RL's key names, and
                                   compare every array and attribute with what the test left in
                                   DIR (raw little-endian arrays + meta.txt); exit 1 on the first
                                   mismatch, naming it

Values in the made files follow one formula so the C side can recompute them:
  observations[t, j] = 100 t + j      next_observations[t, j] = 100 (t + 1) + j + 0.5
  actions[t, k] = t + 0.25 k          rewards[t] = 0.5 t           action_log_probs[t] = -0.125 t
"""
import sys

import h5py
import numpy as np


def obs(n, s, dtype=np.float32):
    t = np.arange(n, dtype=np.float64)[:, None]
    return (100.0 * t + np.arange(s)[None, :]).astype(dtype)


def next_obs(n, s, dtype=np.float32):
    t = np.arange(n, dtype=np.float64)[:, None]
    return (100.0 * (t + 1) + np.arange(s)[None, :] + 0.5).astype(dtype)


def acts(n, a, dtype=np.float32):
    t = np.arange(n, dtype=np.float64)[:, None]
    return (t + 0.25 * np.arange(a)[None, :]).astype(dtype)


def rews(n, dtype=np.float32):
    return (0.5 * np.arange(n)).astype(dtype)


def flags(n, at, dtype=bool):
    f = np.zeros(n, dtype=dtype)
    f[list(at)] = 1
    return f


def make(case, path):
    with h5py.File(path, "w") as f:
        if case == "bool":
            # D4RL v2 style: bool flags, explicit next observations, logp among other infos
            n = 20
            f["observations"] = obs(n, 3)
            f["next_observations"] = next_obs(n, 3)
            f["actions"] = acts(n, 2)
            f["rewards"] = rews(n)
            f["terminals"] = flags(n, [6])
            f["timeouts"] = flags(n, [13])
            f["infos/action_log_probs"] = (-0.125 * np.arange(n)).astype(np.float32)
            f["infos/qpos"] = np.zeros((n, 2))
            f["infos/goal"] = np.ones((n, 2), dtype=np.float32)
            f["metadata/algorithm"] = "SAC"
            f["metadata/policy/fc0/weight"] = np.zeros((4, 4), dtype=np.float32)
            f["metadata"].attrs["iteration"] = 7
        elif case == "float":
            # float flags, (N, 1) rewards, float64 arrays
            n = 12
            f["observations"] = obs(n, 4, np.float64)
            f["next_observations"] = next_obs(n, 4, np.float64)
            f["actions"] = acts(n, 3, np.float64)
            f["rewards"] = rews(n, np.float64)[:, None]
            f["terminals"] = flags(n, [3], np.float32)
            timeouts = flags(n, [7, 11], np.float32)
            timeouts[7] = 2.0  # any non-zero value is set
            f["timeouts"] = timeouts
        elif case == "notimeouts":
            # old D4RL files: no timeouts key, uint8 terminals
            n = 23
            f["observations"] = obs(n, 2)
            f["next_observations"] = next_obs(n, 2)
            f["actions"] = acts(n, 1)
            f["rewards"] = rews(n)
            f["terminals"] = flags(n, [2, 13], np.uint8)
        elif case == "nonext":
            # no next_observations: episodes ending in a terminal, a timeout, a one-row timeout,
            # another terminal, and an open end of file
            n = 21
            f["observations"] = obs(n, 3)
            f["actions"] = acts(n, 2)
            f["rewards"] = rews(n)
            f["terminals"] = flags(n, [4, 15])
            f["timeouts"] = flags(n, [9, 10])
            f["infos/action_log_probs"] = (-0.125 * np.arange(n)).astype(np.float32)
        elif case == "nonext_k":
            # neither next_observations nor timeouts: int64 terminals, fixed episode length
            n = 14
            f["observations"] = obs(n, 2)
            f["actions"] = acts(n, 2)
            f["rewards"] = rews(n)
            terminals = flags(n, [7], np.int64)
            terminals[7] = -3  # any non-zero value is set
            f["terminals"] = terminals
        elif case == "discrete":
            n = 16
            f["observations"] = obs(n, 2)
            f["next_observations"] = next_obs(n, 2)
            f["actions"] = (np.arange(n) % 3).astype(np.int64)
            f["rewards"] = rews(n)
            f["terminals"] = flags(n, [5])
            f["timeouts"] = flags(n, [15])
        elif case == "mismatch":
            n = 10
            f["observations"] = obs(n, 2)
            f["actions"] = acts(n, 2)
            f["rewards"] = rews(n - 1)
            f["terminals"] = flags(n, [9])
        elif case == "noobs":
            n = 10
            f["actions"] = acts(n, 2)
            f["rewards"] = rews(n)
            f["terminals"] = flags(n, [9])
        elif case == "rank3":
            n = 10
            f["observations"] = np.zeros((n, 2, 2), dtype=np.float32)
            f["actions"] = acts(n, 2)
            f["rewards"] = rews(n)
            f["terminals"] = flags(n, [9])
        elif case == "wide_rewards":
            n = 10
            f["observations"] = obs(n, 2)
            f["actions"] = acts(n, 2)
            f["rewards"] = np.zeros((n, 2), dtype=np.float32)
            f["terminals"] = flags(n, [9])
        elif case == "string_terminals":
            n = 3
            f["observations"] = obs(n, 2)
            f["actions"] = acts(n, 2)
            f["rewards"] = rews(n)
            f["terminals"] = np.array([b"no", b"no", b"yes"])
        elif case == "group_actions":
            n = 3
            f["observations"] = obs(n, 2)
            f["actions/a"] = acts(n, 2)
            f["rewards"] = rews(n)
            f["terminals"] = flags(n, [2])
        else:
            raise SystemExit("unknown case " + case)


def fail(msg):
    print("h5py_check: " + msg, file=sys.stderr)
    sys.exit(1)


def same(name, got, want):
    if got.shape != want.shape:
        fail(f"{name}: shape {got.shape}, expected {want.shape}")
    if got.dtype != want.dtype:
        fail(f"{name}: dtype {got.dtype}, expected {want.dtype}")
    if got.dtype.kind == "f":
        bad = ~((got == want) | (np.isnan(got) & np.isnan(want)))
    else:
        bad = got != want
    if bad.any():
        i = np.argwhere(bad)[0]
        fail(f"{name}: first mismatch at {tuple(i)}: {got[tuple(i)]!r} != {want[tuple(i)]!r}")


def check(path, folder):
    meta = {}
    with open(folder + "/meta.txt", encoding="utf-8") as m:
        for line in m:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    n, s, a = int(meta["n"]), int(meta["obs_dim"]), int(meta["act_dim"])
    discrete, has_logp = meta["discrete"] == "1", meta["has_logp"] == "1"

    def raw(name, dtype, shape):
        return np.fromfile(folder + "/" + name, dtype=dtype).reshape(shape)

    with h5py.File(path, "r") as f:
        want = {
            "observations": raw("obs.f32", "<f4", (n, s)),
            "next_observations": raw("next_obs.f32", "<f4", (n, s)),
            "actions": raw("act.i32", "<i4", (n,)) if discrete else raw("act.f32", "<f4", (n, a)),
            "rewards": raw("rew.f32", "<f4", (n,)),
            "terminals": raw("terminal.u8", "u1", (n,)).astype(bool),
            "timeouts": raw("timeout.u8", "u1", (n,)).astype(bool),
        }
        if has_logp:
            want["infos/action_log_probs"] = raw("logp.f32", "<f4", (n,))
        elif "infos/action_log_probs" in f:
            fail("infos/action_log_probs present without logp")
        for key, value in want.items():
            if key not in f:
                fail(f"missing key {key}")
            d = f[key]
            # D4RL-style loaders slice whole arrays; chunked, compressed, extendible
            if d.chunks is None or d.maxshape[0] is not None:
                fail(f"{key}: not chunked and extendible (chunks {d.chunks}, maxshape {d.maxshape})")
            if meta.get("compressed", "1") == "1" and (d.compression != "gzip" or not d.shuffle):
                fail(f"{key}: filters {d.compression}, shuffle {d.shuffle}; expected gzip + shuffle")
            same(key, d[:], value)
        # the flags partition the steps into episodes: every row after a flag starts one
        ends = want["terminals"] | want["timeouts"]
        if n and not ends[-1]:
            fail("last row has neither terminal nor timeout")
        attrs = f.attrs
        for key in ("env_id", "source", "behavior", "tool", "action_kind"):
            got = attrs["orl_" + key]
            got = got.decode() if isinstance(got, bytes) else str(got)
            if got != meta[key]:
                fail(f"attribute orl_{key}: {got!r}, expected {meta[key]!r}")
        if int(attrs["orl_n_actions"]) != int(meta["n_actions"]):
            fail(f"attribute orl_n_actions: {attrs['orl_n_actions']}, expected {meta['n_actions']}")
        if int(attrs["orl_format_version"]) != 1:
            fail("attribute orl_format_version is not 1")
        if float(attrs["orl_discount"]) != float(meta["discount"]):
            fail(f"attribute orl_discount: {attrs['orl_discount']}, expected {meta['discount']}")
        same("orl_obs_low", np.asarray(attrs["orl_obs_low"]), raw("obs_low.f32", "<f4", (s,)))
        same("orl_obs_high", np.asarray(attrs["orl_obs_high"]), raw("obs_high.f32", "<f4", (s,)))
        same("orl_act_low", np.asarray(attrs["orl_act_low"]), raw("act_low.f32", "<f4", (a,)))
        same("orl_act_high", np.asarray(attrs["orl_act_high"]), raw("act_high.f32", "<f4", (a,)))
    print(f"h5py_check: {path}: {n} rows match")


def main(argv):
    if len(argv) == 4 and argv[1] == "make":
        make(argv[2], argv[3])
    elif len(argv) == 4 and argv[1] == "check":
        check(argv[2], argv[3])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv)

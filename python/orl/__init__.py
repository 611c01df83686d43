"""orl from Python: datasets as dicts of NumPy arrays in D4RL's key names, policies that act on
NumPy batches, and train / evaluate / ope returning plain dicts. A thin layer over the C
library liborl.so (ctypes and NumPy only; nothing to compile). Failures raise orl.Error with
the library's message.

    import orl
    data = orl.read("pendulum.h5")                 # {"observations": (N, S) float32, ...}
    orl.write("mine.h5", data, env_id="Pendulum-v1")
    result = orl.train("mine.h5", "iql", "iql.h5", steps=20000, set={"expectile": 0.7})
    policy = orl.Policy("iql.h5")
    actions = policy.act(data["observations"][:5])
    print(orl.evaluate(policy, "Pendulum-v1", episodes=10)["normalized_score"])
    report = orl.ope(["iql.h5"], "mine.h5", estimators="wis,fqe,wdr")
"""

import ctypes
import json
import os

import numpy as np

from . import _capi
from ._capi import Error, check, lib

__all__ = ["Error", "Dataset", "Policy", "read", "write", "gen", "train", "learners", "evaluate",
           "ope", "__version__"]

__version__ = lib.orl_version().decode()

_CONTINUOUS, _DISCRETE = 0, 1
_MODES = {"mean": 0, "sample": 1}


def _bytes(s):
    return None if s is None else os.fsencode(s)


class _Owned:
    """Frees a C object when the last NumPy view of its memory is gone; first, when set, is
    the (ptr, free) of an object that must be freed before it (a policy's work), freed by the
    same finalizer: the garbage collector finalizes separate objects in any order."""

    def __init__(self, ptr, free):
        self.ptr, self._free = ptr, free
        self.first = None

    def __del__(self):
        if self.first:
            self.first[1](self.first[0])
            self.first = None
        if self.ptr:
            self._free(self.ptr)
            self.ptr = None


_DTYPES = {ctypes.c_float: np.float32, ctypes.c_int32: np.int32, ctypes.c_uint8: np.uint8,
           ctypes.c_int64: np.int64}


def _view(ptr, ctype, shape, owner, dtype=None):
    """A NumPy array over C memory at ptr that keeps owner alive (no copy); viewed as dtype
    when given (same item size)."""
    n = int(np.prod(shape))
    if n == 0 or not ptr:
        return np.zeros(shape, dtype=dtype or _DTYPES[ctype])
    buf = (ctype * n).from_address(ctypes.addressof(ptr.contents))
    buf._orl_owner = owner  # the array's base is buf, and buf holds the owner
    arr = np.frombuffer(buf, dtype=_DTYPES[ctype]).reshape(shape)
    return arr.view(dtype) if dtype is not None else arr


class Dataset(dict):
    """A dataset as D4RL lays it out: "observations" (N, S) float32, "next_observations",
    "actions" ((N, A) float32, or (N,) int32 for discrete actions), "rewards" (N,) float32,
    "terminals" and "timeouts" (N,) bool, and "infos/action_log_probs" (N,) float32 when the
    behaviour's log-probabilities were logged. .meta holds the header (env_id, discount, source,
    behavior, tool, n_actions, reward range, horizon) and "episode_offsets" (E + 1,) int64.
    Arrays read by orl.read view the library's memory (no copy) and stay valid as long as any
    of them lives."""

    meta = None


def _meta(h, ds, owner):
    kind = "discrete" if h.action_kind == _DISCRETE else "continuous"
    return {
        "env_id": h.env_id.decode(), "source": h.source.decode(), "behavior": h.behavior.decode(),
        "tool": h.tool.decode(), "discount": h.discount, "action_kind": kind,
        "n_actions": h.n_actions, "reward_min": h.reward_min, "reward_max": h.reward_max,
        "horizon": h.horizon,
        "episode_offsets": _view(ds.ep_off, ctypes.c_int64, (ds.n_episodes + 1,), owner),
    }


def _as_dict(handle):
    """The arrays of a C dataset (an _Owned over orl_dataset *) as a Dataset, without copies."""
    ds = handle.ptr.contents
    h, n, s = ds.h, ds.n_steps, ds.h.obs_dim
    out = Dataset()
    out["observations"] = _view(ds.obs, ctypes.c_float, (n, s), handle)
    out["next_observations"] = _view(ds.next_obs, ctypes.c_float, (n, s), handle)
    if h.action_kind == _DISCRETE:
        out["actions"] = _view(ds.act_idx, ctypes.c_int32, (n,), handle)
    else:
        out["actions"] = _view(ds.act, ctypes.c_float, (n, h.act_dim), handle)
    out["rewards"] = _view(ds.rew, ctypes.c_float, (n,), handle)
    out["terminals"] = _view(ds.terminal, ctypes.c_uint8, (n,), handle, np.bool_)
    out["timeouts"] = _view(ds.timeout, ctypes.c_uint8, (n,), handle, np.bool_)
    if h.has_logp:
        out["infos/action_log_probs"] = _view(ds.logp_b, ctypes.c_float, (n,), handle)
    out.meta = _meta(h, ds, handle)
    return out


def _read_handle(path):
    ptr = ctypes.POINTER(_capi.Dataset)()
    check(lib.orl_dataset_read(_bytes(path), None, None, ctypes.byref(ptr)))
    return _Owned(ptr, lib.orl_dataset_free)


def read(path):
    """Reads a dataset file (D4RL-layout HDF5, Minari, d3rlpy, SQLite; as `orl info` knows
    them) into a Dataset of NumPy arrays that view the library's memory."""
    return _as_dict(_read_handle(path))


def _column(data, key, dtype, shape, required=True):
    if key not in data:
        if required:
            raise Error(_capi.ERR_INPUT, f"data: key '{key}' missing (expected {shape})")
        return None
    a = np.ascontiguousarray(data[key], dtype=dtype)
    if a.shape != shape:
        raise Error(_capi.ERR_INPUT, f"data: '{key}' has shape {a.shape}, expected {shape}")
    return a


def _copy_into(dst_ptr, src):
    ctypes.memmove(dst_ptr, src.ctypes.data, src.nbytes)


def _from_arrays(data, env_id=None, discount=None, n_actions=None, behavior=None, source=None,
                 reward_range=None, horizon=None):
    """A C dataset (an _Owned) holding a copy of data's arrays, indexed and validated."""
    meta = getattr(data, "meta", None) or {}
    obs = np.asarray(data.get("observations") if "observations" in data else None)
    if "observations" not in data or obs.ndim != 2:
        raise Error(_capi.ERR_INPUT, "data: 'observations' missing or not (N, S)")
    n, s = obs.shape
    act = np.asarray(data.get("actions", np.empty(0)))
    discrete = np.issubdtype(act.dtype, np.integer) or act.ndim == 1
    if discrete:
        kind, a_dim = _DISCRETE, 1
        if n_actions is None:
            n_actions = meta.get("n_actions") or (int(act.max()) + 1 if act.size else 0)
    else:
        kind, a_dim, n_actions = _CONTINUOUS, act.shape[1] if act.ndim == 2 else 0, 0
    h = _capi.Header()
    check(lib.orl_header_init(ctypes.byref(h), s, a_dim, kind, int(n_actions)))
    try:
        for field, value, fallback in (("env_id", env_id, ""), ("behavior", behavior, ""),
                                       ("source", source, "python")):
            value = value if value is not None else meta.get(field) or fallback
            size = getattr(_capi.Header, field).size
            setattr(h, field, value.encode()[: size - 1])
        h.tool = f"orl {__version__} (python)".encode()
        h.discount = float(discount if discount is not None else meta.get("discount", np.nan))
        lo, hi = reward_range if reward_range is not None else (
            meta.get("reward_min", np.nan), meta.get("reward_max", np.nan))
        h.reward_min, h.reward_max = float(lo), float(hi)
        h.horizon = int(horizon if horizon is not None else meta.get("horizon", 0))
        logp = _column(data, "infos/action_log_probs", np.float32, (n,), required=False)
        h.has_logp = int(logp is not None)
        term = _column(data, "terminals", np.uint8, (n,))
        tout = _column(data, "timeouts", np.uint8, (n,), required=False)
        tout = np.zeros(n, np.uint8) if tout is None else tout.copy()
        if n and not (term[-1] or tout[-1]):
            tout[-1] = 1  # an episode open at the end is cut there, as the readers do
        n_eps = int(np.count_nonzero(term | tout))
        ptr = ctypes.POINTER(_capi.Dataset)()
        check(lib.orl_dataset_create(ctypes.byref(h), n, max(n_eps, 1), ctypes.byref(ptr)))
    finally:
        lib.orl_header_free(ctypes.byref(h))
    handle = _Owned(ptr, lib.orl_dataset_free)
    ds = ptr.contents
    _copy_into(ds.obs, _column(data, "observations", np.float32, (n, s)))
    _copy_into(ds.next_obs, _column(data, "next_observations", np.float32, (n, s)))
    if discrete:
        _copy_into(ds.act_idx, _column(data, "actions", np.int32, (n,)))
    else:
        _copy_into(ds.act, _column(data, "actions", np.float32, (n, a_dim)))
    _copy_into(ds.rew, _column(data, "rewards", np.float32, (n,)))
    _copy_into(ds.terminal, term)
    _copy_into(ds.timeout, tout)
    if logp is not None:
        _copy_into(ds.logp_b, logp)
    else:
        _copy_into(ds.logp_b, np.full(n, np.nan, np.float32))
    ds.n_steps = n
    check(lib.orl_dataset_index(ptr))
    check(lib.orl_dataset_validate(ptr))
    return handle


def write(path, data, *, env_id=None, discount=None, n_actions=None, behavior=None,
          source=None, reward_range=None, horizon=None, layout="auto"):
    """Writes data (a dict of arrays in D4RL's key names, e.g. from orl.read, h5py or Minari) to
    path: D4RL-layout HDF5, SQLite (.sqlite/.db) or a Minari directory, as layout says (auto:
    from the path). Metadata not given comes from data.meta when present. Discrete actions are
    an integer (N,) "actions" array. The data is validated first (a NaN, a ragged shape, a
    missing key raise orl.Error naming it) and the file is written to a temporary name and
    renamed when complete. An episode still open at the last row is closed there (timeout)."""
    handle = _from_arrays(data, env_id, discount, n_actions, behavior, source, reward_range,
                          horizon)
    opt = _capi.WriteOptions()
    if layout != "auto":
        lay = ctypes.c_int()
        check(lib.orl_layout_parse(layout.encode(), ctypes.byref(lay)))
        opt.layout = lay.value
    check(lib.orl_dataset_write(handle.ptr, _bytes(path), ctypes.byref(opt), None))
    return path


def _dataset_handle(data):
    return _read_handle(data) if isinstance(data, (str, bytes, os.PathLike)) else \
        _from_arrays(data)


def gen(env, behavior, path, *, episodes=None, steps=None, seed=0):
    """Generates a dataset as `orl gen` does: env an environment id ("Pendulum-v1"), behavior
    random | medium | expert | medium-replay | medium-expert | a policy file. Returns path."""
    opt = _capi.GenOptions(env_id=env.encode(), behavior=_bytes(behavior),
                           episodes=episodes or 0, steps=steps or 0, seed=seed,
                           source=b"python: orl.gen")
    check(lib.orl_gen(ctypes.byref(opt), _bytes(path), None))
    return path


class Policy:
    """A policy file (any type orl writes: mlp, argmax-Q, BCQ, tabular, "builtin:ENV/LEVEL")
    loaded for acting on NumPy batches. Attributes: obs_dim, act_dim, discrete, n_actions,
    algorithm, config (dict), deterministic (no log-probabilities)."""

    def __init__(self, path, *, max_batch=4096):
        ptr = ctypes.POINTER(_capi.Policy)()
        check(lib.orl_policy_open(_bytes(path), ctypes.byref(ptr)))
        self._p = _Owned(ptr, lib.orl_policy_free)
        w = ctypes.c_void_p()
        check(lib.orl_policy_work_create(ptr, max_batch, ctypes.byref(w)))
        self._p.first = (w, lib.orl_policy_work_free)
        self._w = w
        self.max_batch = max_batch
        p = ptr.contents
        self.path = str(path)
        self.obs_dim, self.act_dim, self.n_actions = p.obs_dim, p.act_dim, p.n_actions
        self.discrete = p.action_kind == _DISCRETE
        self.deterministic = bool(p.deterministic)
        self.algorithm = p.algorithm.decode()
        self.config = json.loads(p.config_json.decode() or "{}")
        self._rng = _capi.Rng()
        lib.orl_rng_seed(ctypes.byref(self._rng), 0, 0)

    def __repr__(self):
        kind = f"{self.n_actions} actions" if self.discrete else f"act_dim {self.act_dim}"
        return f"orl.Policy({self.path!r}: {self.algorithm}, obs_dim {self.obs_dim}, {kind})"

    def _obs(self, obs):
        o = np.ascontiguousarray(obs, dtype=np.float32)
        single = o.ndim == 1
        o = o.reshape(1, -1) if single else o
        if o.ndim != 2 or o.shape[1] != self.obs_dim:
            raise Error(_capi.ERR_INPUT, f"{self.path}: observations of shape {np.shape(obs)}, "
                        f"expected (B, {self.obs_dim})")
        return o, single

    def seed(self, seed):
        """Seeds the draws of act(mode="sample")."""
        lib.orl_rng_seed(ctypes.byref(self._rng), seed, 0)

    def act(self, obs, mode="mean"):
        """Actions for obs (B, S) or one observation (S,): (B, A) float32 or (B,) int32 for
        discrete policies. mode "mean" (the mean or argmax) or "sample" (draws from the policy's
        distribution with the policy's seeded generator, see seed())."""
        o, single = self._obs(obs)
        b = o.shape[0]
        out = np.empty((b,), np.int32) if self.discrete else np.empty((b, self.act_dim), np.float32)
        fp, ip = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32)
        for i in range(0, b, self.max_batch):
            j = min(b, i + self.max_batch)
            oc, oa = o[i:j], out[i:j]
            check(lib.orl_policy_act(
                self._p.ptr, self._w, oc.ctypes.data_as(fp), j - i, _MODES[mode],
                ctypes.byref(self._rng), None if self.discrete else oa.ctypes.data_as(fp),
                oa.ctypes.data_as(ip) if self.discrete else None))
        return out[0] if single else out

    def log_prob(self, obs, actions):
        """log pi(a | s) (B,) float64 of the given actions: densities for continuous policies,
        masses for discrete ones. orl.Error ("unsupported") for a deterministic policy."""
        o, single = self._obs(obs)
        b = o.shape[0]
        if self.discrete:
            a = np.ascontiguousarray(actions, dtype=np.int32).reshape(b)
        else:
            a = np.ascontiguousarray(actions, dtype=np.float32).reshape(b, self.act_dim)
        out = np.empty(b, np.float64)
        fp, ip = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int32)
        for i in range(0, b, self.max_batch):
            j = min(b, i + self.max_batch)
            ac = a[i:j]
            check(lib.orl_policy_logp(
                self._p.ptr, self._w, o[i:j].ctypes.data_as(fp), j - i,
                None if self.discrete else ac.ctypes.data_as(fp),
                ac.ctypes.data_as(ip) if self.discrete else None,
                out[i:j].ctypes.data_as(ctypes.POINTER(ctypes.c_double))))
        return out[0] if single else out

    def save(self, path):
        """Writes the policy to a policy file (HDF5)."""
        check(lib.orl_policy_save(self._p.ptr, _bytes(path)))


def learners():
    """The learners orl train knows: {name: one-line summary}."""
    out = {}
    for i in range(lib.orl_learner_count()):
        names = ctypes.cast(lib.orl_learner_get(i), ctypes.POINTER(ctypes.c_char_p * 2)).contents
        out[names[0].decode()] = names[1].decode()
    return out


def _metrics(m):
    return {m.names[i].decode(): m.values[i] for i in range(m.n)}


def train(data, algo, out=None, *, steps=None, seed=0, batch=0, set=None, eval_env=None,
          eval_every=None, eval_episodes=None, log=None, checkpoint=None, checkpoint_every=None,
          resume=False, val_fraction=None):
    """Trains learner algo ("bc", "iql", ...; see learners()) on data (a file path or a dict of
    arrays) as `orl train` does, writes the policy to out when given, and returns a dict:
    steps_done, resumed_from, seconds, train_episodes, val_episodes, metrics (the last step's),
    val_metrics, eval_return and eval_score (NaN without eval_env), config (everything the run
    used) and policy (an orl.Policy of the result)."""
    handle = _dataset_handle(data)
    opt = _capi.TrainOptions()
    lib.orl_train_options_init(ctypes.byref(opt))
    opt.algo = algo.encode()
    sets = [f"{k}={v}".encode() for k, v in (set or {}).items()]
    arr = (ctypes.c_char_p * max(len(sets), 1))(*sets)
    opt.sets, opt.n_sets = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p)), len(sets)
    if steps is not None:
        opt.steps = steps
    opt.batch, opt.seed = batch, seed
    if val_fraction is not None:
        opt.val_fraction = val_fraction
    opt.log_path = _bytes(log)
    if eval_env:
        opt.eval_env = eval_env.encode()
        opt.evaluate = _capi.EVAL_FOR_TRAINING
        if eval_every:
            opt.eval_every = eval_every
        if eval_episodes:
            opt.eval_episodes = eval_episodes
    if checkpoint or resume:
        opt.checkpoint_path = _bytes(checkpoint or f"{out}.ckpt")
        opt.resume = int(resume)
        if checkpoint_every:
            opt.checkpoint_every = checkpoint_every
    if isinstance(data, (str, bytes, os.PathLike)):
        opt.data_path = _bytes(data)
    res = _capi.TrainResult()
    ptr = ctypes.POINTER(_capi.Policy)()
    try:
        check(lib.orl_train(handle.ptr, ctypes.byref(opt), ctypes.byref(ptr), ctypes.byref(res)))
        owned = _Owned(ptr, lib.orl_policy_free)
        if out is not None:
            check(lib.orl_policy_save(ptr, _bytes(out)))
        result = {
            "steps_done": res.steps_done, "resumed_from": res.resumed_from,
            "seconds": res.seconds, "train_episodes": res.train_episodes,
            "val_episodes": res.val_episodes, "metrics": _metrics(res.last),
            "val_metrics": _metrics(res.val), "eval_return": res.eval_return,
            "eval_score": res.eval_score, "config": json.loads(res.config_json.decode()),
        }
    finally:
        lib.orl_train_result_free(ctypes.byref(res))
    del owned
    if out is not None:
        result["policy"] = Policy(out)
    return result


def _policy_of(policy):
    return policy if isinstance(policy, Policy) else Policy(policy)


def evaluate(policy, env, *, episodes=10, seed=0, mode="mean"):
    """Runs policy (an orl.Policy or a file / "builtin:..." name) for episodes in environment
    env as `orl eval` does: returns a dict with return_mean, return_stderr, return_min,
    return_max, length_mean, length_min, length_max, episodes, steps and normalized_score
    (NaN when the environment has no reference scores)."""
    p = _policy_of(policy)
    s = _capi.RolloutSummary()
    check(lib.orl_eval(p._p.ptr, env.encode(), episodes, seed, _MODES[mode], ctypes.byref(s),
                       None))
    return {
        "env": env, "episodes": s.n_episodes, "steps": s.n_steps, "seed": seed, "mode": mode,
        "return_mean": s.return_mean, "return_stderr": s.return_stderr,
        "return_min": s.return_min, "return_max": s.return_max, "length_mean": s.length_mean,
        "length_min": s.length_min, "length_max": s.length_max,
        "normalized_score": lib.orl_normalized_score(env.encode(), s.return_mean),
    }


def ope(policies, data, *, estimators="is,pdis,wis,wpdis", behavior="logged", gamma=None,
        confidence=0.95, bootstrap=200, seed=0, fqe_steps=None, fail_below=None, baseline=None,
        margin=None, min_ess=None, return_range=None, gate_estimator=None, model=None):
    """Off-policy evaluation as `orl ope` does: policies (names or orl.Policy objects) scored on
    data (a file path or a dict of arrays) by each estimator, with intervals, lower bounds and
    the gate. model: a model file (orl model fit) for the "mb" estimator (else it fits one).
    Returns the report as a dict: the JSON report of `orl ope --format json` (its
    "passed" says whether every gate passed; the program exits 1 when not)."""
    policies = [policies] if isinstance(policies, (str, Policy)) else list(policies)
    if baseline is not None:
        policies.append(baseline)
    loaded = [_policy_of(p) for p in policies]
    if not 1 <= len(loaded) <= _capi.REPORT_MAX_POLICIES:
        raise Error(_capi.ERR_INPUT, f"ope: 1 to {_capi.REPORT_MAX_POLICIES} policies")
    handle = _dataset_handle(data)
    name = os.fsencode(data) if isinstance(data, (str, bytes, os.PathLike)) else b"(arrays)"
    opt = _capi.OpeRunOptions()
    lib.orl_ope_run_options_init(ctypes.byref(opt))
    check(lib.orl_ope_run_estimators_parse(estimators.encode(), int(behavior == "estimated"),
                                           ctypes.byref(opt)))
    if behavior not in ("logged", "estimated"):
        raise Error(_capi.ERR_INPUT, f"ope: behavior is logged or estimated, got '{behavior}'")
    opt.gamma = float("nan") if gamma is None else gamma
    opt.confidence, opt.bootstrap, opt.seed = confidence, bootstrap, seed
    if fqe_steps:
        opt.fqe_steps = fqe_steps
    if fail_below is not None:
        opt.fail_below = fail_below
    if baseline is not None:
        opt.baseline = len(loaded) - 1
    if margin is not None:
        opt.margin = margin
    if min_ess is not None:
        opt.min_ess = min_ess
    if gate_estimator:
        opt.gate_estimator = gate_estimator.encode()
    if return_range is not None:
        opt.return_range.lo, opt.return_range.hi = map(float, return_range)
        opt.return_range.source = _capi.RANGE_SOURCE_USER
    check(lib.orl_ope_run_check(handle.ptr, name, ctypes.byref(opt)))
    dyn = None
    if model is not None:
        ptr = ctypes.c_void_p()
        check(lib.orl_dynamics_load(_bytes(model), ctypes.byref(ptr)))
        dyn = _Owned(ptr, lib.orl_dynamics_free)
        opt.mb_model = ptr
    env = _capi.OpeEnvironment()
    lib.orl_eval_ope_environment(handle.ptr.contents.h.env_id, ctypes.byref(env))
    opt.environment = ctypes.pointer(env)
    ptrs = (ctypes.POINTER(_capi.Policy) * len(loaded))(*[p._p.ptr for p in loaded])
    names = (ctypes.c_char_p * len(loaded))(*[p.path.encode() for p in loaded])
    report = ctypes.c_void_p()
    check(lib.orl_report_create(ctypes.byref(report)))
    try:
        check(lib.orl_ope_run(handle.ptr, name, ptrs, names, len(loaded), ctypes.byref(opt),
                              None, report))
        text = ctypes.c_void_p()
        check(lib.orl_report_render(report, 1, ctypes.byref(text)))  # 1: json
        try:
            out = json.loads(ctypes.string_at(text).decode())
        finally:
            _capi.libc.free(text)
    finally:
        lib.orl_report_free(report)
    return out

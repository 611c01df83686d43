"""The C library as ctypes sees it: loading liborl.so, the structs the binding fills or reads
(mirrors of include/orl/*.h, checked field by field against the compiler's layout by
tests/test_orl.py), the prototypes, and the error translation. Nothing here is public."""

import ctypes
import ctypes.util
import os
import subprocess
from ctypes import (
    CFUNCTYPE,
    POINTER,
    Structure,
    c_char,
    c_char_p,
    c_double,
    c_float,
    c_int,
    c_int32,
    c_int64,
    c_uint8,
    c_uint64,
    c_void_p,
)


def _candidates():
    """Where liborl.so may be, in the order tried."""
    env = os.environ.get("ORL_LIBRARY")
    if env:
        yield env
    try:
        libdir = subprocess.run(
            ["pkg-config", "--variable=libdir", "orl"],
            capture_output=True, text=True, check=False).stdout.strip()
        if libdir:
            yield os.path.join(libdir, "liborl.so")
    except OSError:
        pass
    found = ctypes.util.find_library("orl")
    if found:
        yield found


def _load():
    tried = []
    for path in _candidates():
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            tried.append(f"{path}: {e}")
    raise ImportError(
        "orl: liborl.so not found (tried: " + ("; ".join(tried) or "nothing") + "). Install the "
        "library (cmake --install build --prefix P, then P/lib in pkg-config's path or the "
        "loader's), or set ORL_LIBRARY=/path/to/liborl.so")


lib = _load()

# ---- statuses and errors (status.h) ----

STATUS_NAMES = ["ok", "io", "format", "input", "nomem", "unsupported", "numeric", "interrupted",
                "invalid"]
ERR_INPUT = 3


class Error(Exception):
    """A failed orl call: the library's message (file, line, key and what was expected) and its
    status name in .status ("io", "format", "input", ...)."""

    def __init__(self, status, message):
        self.status = STATUS_NAMES[status] if 0 <= status < len(STATUS_NAMES) else str(status)
        self.message = message
        super().__init__(message)


lib.orl_error_message.restype = c_char_p
lib.orl_error_message.argtypes = []


def check(status):
    """Raises Error carrying orl_error_message() when status is not ORL_OK."""
    if status != 0:
        raise Error(status, lib.orl_error_message().decode("utf-8", "replace"))


# ---- structs (field order and types as in the C headers) ----

class Header(Structure):  # dataset.h: orl_header
    _fields_ = [
        ("obs_dim", c_int32), ("act_dim", c_int32), ("action_kind", c_int),
        ("n_actions", c_int32), ("has_logp", c_int), ("env_id", c_char * 128),
        ("source", c_char * 512), ("behavior", c_char * 128), ("tool", c_char * 64),
        ("discount", c_double), ("reward_min", c_double), ("reward_max", c_double),
        ("horizon", c_int64), ("obs_low", POINTER(c_float)), ("obs_high", POINTER(c_float)),
        ("act_low", POINTER(c_float)), ("act_high", POINTER(c_float)),
    ]


class Dataset(Structure):  # dataset.h: orl_dataset
    _fields_ = [
        ("h", Header), ("n_steps", c_int64), ("n_episodes", c_int64), ("cap_steps", c_int64),
        ("cap_episodes", c_int64), ("obs", POINTER(c_float)), ("next_obs", POINTER(c_float)),
        ("act", POINTER(c_float)), ("act_idx", POINTER(c_int32)), ("rew", POINTER(c_float)),
        ("terminal", POINTER(c_uint8)), ("timeout", POINTER(c_uint8)),
        ("logp_b", POINTER(c_float)), ("ep_off", POINTER(c_int64)), ("mem", c_void_p),
    ]


class WriteOptions(Structure):  # dataset.h: orl_write_options (zeros: the defaults)
    _fields_ = [("layout", c_int), ("append", c_int), ("gzip_level", c_int), ("chunk_rows", c_int64),
                ("already_present", c_void_p)]


class Policy(Structure):  # policy.h: struct orl_policy (read-only for callers)
    _fields_ = [
        ("ops", c_void_p), ("impl", c_void_p), ("algorithm", c_char * 64),
        ("source", c_char * 512), ("config_json", c_char_p), ("obs_dim", c_int32),
        ("act_dim", c_int32), ("action_kind", c_int), ("n_actions", c_int32),
        ("act_low", POINTER(c_float)), ("act_high", POINTER(c_float)), ("deterministic", c_int),
    ]


class Rng(Structure):  # rng.h: orl_rng, opaque here (only its size matters)
    _fields_ = [("state", c_uint64), ("inc", c_uint64), ("spare", c_double), ("has_spare", c_int)]


EVALUATE = CFUNCTYPE(c_int, c_void_p, c_void_p, c_char_p, c_int64, c_uint64, POINTER(c_double),
                     POINTER(c_double))


class TrainOptions(Structure):  # train.h: orl_train_options
    _fields_ = [
        ("algo", c_char_p), ("learner", c_void_p), ("sets", POINTER(c_char_p)),
        ("n_sets", c_int32), ("steps", c_int64), ("batch", c_int32), ("seed", c_uint64),
        ("val_fraction", c_double), ("log_every", c_int64), ("log_path", c_char_p),
        ("eval_env", c_char_p), ("eval_every", c_int64), ("eval_episodes", c_int64),
        ("evaluate", c_void_p), ("evaluate_ctx", c_void_p), ("checkpoint_path", c_char_p),
        ("checkpoint_every", c_int64), ("resume", c_int), ("stop_after", c_int64),
        ("data_path", c_char_p), ("progress", c_void_p),
    ]


class TrainMetrics(Structure):  # train.h: orl_train_metrics
    _fields_ = [("n", c_int32), ("names", POINTER(c_char_p)), ("values", POINTER(c_double))]


class TrainResult(Structure):  # train.h: orl_train_result
    _fields_ = [
        ("steps_done", c_int64), ("resumed_from", c_int64), ("last", TrainMetrics),
        ("val", TrainMetrics), ("eval_return", c_double), ("eval_score", c_double),
        ("seconds", c_double), ("train_episodes", c_int64), ("val_episodes", c_int64),
        ("config_json", c_char * 4096),
    ]


class RolloutSummary(Structure):  # eval.h: orl_rollout_summary
    _fields_ = [
        ("n_episodes", c_int64), ("n_steps", c_int64), ("return_mean", c_double),
        ("return_stderr", c_double), ("return_min", c_double), ("return_max", c_double),
        ("length_min", c_int32), ("length_max", c_int32), ("length_mean", c_double),
    ]


class GenOptions(Structure):  # eval.h: orl_gen_options
    _fields_ = [
        ("env_id", c_char_p), ("behavior", c_char_p), ("search", c_void_p), ("episodes", c_int64),
        ("steps", c_int64), ("seed", c_uint64), ("source", c_char_p), ("progress", c_void_p),
    ]


class OpeRunEstimator(Structure):  # ope_run.h: orl_ope_run_estimator
    _fields_ = [("name", c_char * 32), ("kind", c_int), ("base", c_int), ("ris", c_int)]


class OpeEnvironment(Structure):  # ope_run.h: orl_ope_environment
    _fields_ = [
        ("registered", c_int), ("tabular", c_int), ("n_states", c_int32), ("n_actions", c_int32),
        ("max_episode_steps", c_int32), ("policy_probs", c_void_p), ("return_range", c_void_p),
    ]


class OpeReturnRange(Structure):  # ope.h: orl_ope_return_range
    _fields_ = [("lo", c_double), ("hi", c_double), ("source", c_int)]


REPORT_MAX_ESTIMATORS = 16  # report.h: ORL_REPORT_MAX_ESTIMATORS
REPORT_MAX_POLICIES = 32    # report.h: ORL_REPORT_MAX_POLICIES
RANGE_SOURCE_USER = 1       # ope.h: ORL_OPE_RANGE_SOURCE_USER


class OpeRunOptions(Structure):  # ope_run.h: orl_ope_run_options
    _fields_ = [
        ("n_estimators", c_int32), ("estimators", OpeRunEstimator * REPORT_MAX_ESTIMATORS),
        ("behavior_estimated", c_int), ("gamma", c_double), ("confidence", c_double),
        ("bootstrap", c_int64), ("seed", c_uint64), ("fqe_steps", c_int64), ("fqe", c_void_p),
        ("environment", POINTER(OpeEnvironment)), ("fail_below", c_double), ("baseline", c_int32),
        ("margin", c_double), ("gate_estimator", c_char * 32), ("min_ess", c_double),
        ("return_range", OpeReturnRange), ("mb_model", c_void_p), ("mb_config", c_void_p),
        ("mb_rollouts", c_int32), ("mb_horizon", c_int64),
    ]


# the structs tests/python_abi_probe.c reports, under their C names
STRUCTS = {
    "orl_header": Header, "orl_dataset": Dataset, "orl_write_options": WriteOptions, "struct orl_policy": Policy, "orl_rng": Rng,
    "orl_train_options": TrainOptions, "orl_train_metrics": TrainMetrics,
    "orl_train_result": TrainResult, "orl_rollout_summary": RolloutSummary,
    "orl_gen_options": GenOptions, "orl_ope_run_estimator": OpeRunEstimator,
    "orl_ope_environment": OpeEnvironment, "orl_ope_return_range": OpeReturnRange,
    "orl_ope_run_options": OpeRunOptions,
}

# ---- prototypes ----


def _proto(name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


P = POINTER
_proto("orl_version", c_char_p)
_proto("orl_header_init", c_int, P(Header), c_int32, c_int32, c_int, c_int32)
_proto("orl_header_free", None, P(Header))
_proto("orl_dataset_create", c_int, P(Header), c_int64, c_int64, P(P(Dataset)))
_proto("orl_dataset_free", None, P(Dataset))
_proto("orl_dataset_index", c_int, P(Dataset))
_proto("orl_dataset_validate", c_int, P(Dataset))
_proto("orl_dataset_read", c_int, c_char_p, c_void_p, c_void_p, P(P(Dataset)))
_proto("orl_layout_parse", c_int, c_char_p, P(c_int))
_proto("orl_dataset_write", c_int, P(Dataset), c_char_p, P(WriteOptions), c_void_p)
_proto("orl_policy_open", c_int, c_char_p, P(P(Policy)))
_proto("orl_policy_free", None, P(Policy))
_proto("orl_policy_save", c_int, P(Policy), c_char_p)
_proto("orl_policy_work_create", c_int, P(Policy), c_int32, P(c_void_p))
_proto("orl_policy_work_free", None, c_void_p)
_proto("orl_policy_act", c_int, P(Policy), c_void_p, P(c_float), c_int32, c_int, P(Rng),
       P(c_float), P(c_int32))
_proto("orl_policy_logp", c_int, P(Policy), c_void_p, P(c_float), c_int32, P(c_float),
       P(c_int32), P(c_double))
_proto("orl_policy_check_dims", c_int, P(Policy), c_int32, c_int32, c_int, c_int32)
_proto("orl_rng_seed", None, P(Rng), c_uint64, c_uint64)
_proto("orl_train_options_init", None, P(TrainOptions))
_proto("orl_train", c_int, P(Dataset), P(TrainOptions), P(P(Policy)), P(TrainResult))
_proto("orl_train_result_free", None, P(TrainResult))
_proto("orl_learner_count", c_int32)
_proto("orl_learner_get", c_void_p, c_int32)
_proto("orl_eval", c_int, P(Policy), c_char_p, c_int64, c_uint64, c_int, P(RolloutSummary),
       c_void_p)
_proto("orl_normalized_score", c_double, c_char_p, c_double)
_proto("orl_gen", c_int, P(GenOptions), c_char_p, c_void_p)
_proto("orl_ope_run_options_init", None, P(OpeRunOptions))
_proto("orl_ope_run_estimators_parse", c_int, c_char_p, c_int, P(OpeRunOptions))
_proto("orl_ope_run_check", c_int, P(Dataset), c_char_p, P(OpeRunOptions))
_proto("orl_eval_ope_environment", None, c_char_p, P(OpeEnvironment))
_proto("orl_ope_run", c_int, P(Dataset), c_char_p, P(P(Policy)), P(c_char_p), c_int32,
       P(OpeRunOptions), c_void_p, c_void_p)
_proto("orl_report_create", c_int, P(c_void_p))
_proto("orl_report_free", None, c_void_p)
_proto("orl_report_render", c_int, c_void_p, c_int, P(c_void_p))
_proto("orl_report_passed", c_int, c_void_p)

# the C library's free, for strings the library allocates (orl_report_render)
libc = ctypes.CDLL(None)
libc.free.restype = None
libc.free.argtypes = [c_void_p]

# eval/'s evaluation for orl_train's eval_env (a function pointer, passed as it is)
EVAL_FOR_TRAINING = ctypes.cast(lib.orl_eval_for_training, c_void_p)

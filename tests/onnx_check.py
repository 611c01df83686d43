#!/usr/bin/python3
"""ONNX side of tests/test_export.c.

  onnx_check.py MODEL OBS WANT A KIND     KIND: float (WANT (N, A) float32) or index (WANT (N)
                                          int32); OBS (N, S) float32, raw little-endian

Checks MODEL with onnx's checker (full check: shape inference too), evaluates its graph with
NumPy in float32 (an interpreter of the operators orl's export uses, written from the ONNX
operator specifications), and compares the outputs with WANT (orl_policy_act in mean mode).
Prints the largest |difference| (float) or the number of differing indices, and exits 1 when
above 1e-5 or not zero."""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def run(model, obs):
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = obs
    for node in model.graph.node:
        x = [env[name] for name in node.input]
        a = attrs(node)
        op = node.op_type
        if op in ("Sub", "Div", "Mul", "Add", "Max", "Min"):
            f = {"Sub": np.subtract, "Div": np.divide, "Mul": np.multiply, "Add": np.add,
                 "Max": np.maximum, "Min": np.minimum}[op]
            y = f(x[0], x[1])
        elif op == "Gemm":
            b = x[1].T if a.get("transB", 0) else x[1]
            y = x[0] @ b + (x[2] if len(x) > 2 else 0)
        elif op == "Relu":
            y = np.maximum(x[0], np.float32(0))
        elif op == "Tanh":
            y = np.tanh(x[0])
        elif op == "Sigmoid":
            y = np.float32(1) / (np.float32(1) + np.exp(-x[0]))
        elif op == "Elu":
            alpha = np.float32(a.get("alpha", 1.0))
            y = np.where(x[0] > 0, x[0], alpha * np.expm1(x[0]))
        elif op == "LayerNormalization":
            eps = np.float32(a.get("epsilon", 1e-5))
            mu = x[0].mean(axis=-1, keepdims=True)
            var = ((x[0] - mu) ** 2).mean(axis=-1, keepdims=True)
            y = (x[0] - mu) / np.sqrt(var + eps) * x[1] + x[2]
        elif op == "Slice":
            start, end, axis = int(x[1][0]), int(x[2][0]), int(x[3][0])
            idx = [slice(None)] * x[0].ndim
            idx[axis] = slice(start, end)
            y = x[0][tuple(idx)]
        elif op == "ArgMax":
            y = np.argmax(x[0], axis=a.get("axis", 0))
            if a.get("keepdims", 1):
                y = np.expand_dims(y, a.get("axis", 0))
        else:
            raise SystemExit(f"onnx_check: operator {op} is not interpreted here")
        env[node.output[0]] = y.astype(np.float32) if y.dtype.kind == "f" else y.astype(np.int64)
    return env[model.graph.output[0].name]


def main():
    path, obs_path, want_path, a_dim, kind = sys.argv[1:6]
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    s_dim = model.graph.input[0].type.tensor_type.shape.dim[1].dim_value
    obs = np.fromfile(obs_path, dtype="<f4").reshape(-1, s_dim)
    got = run(model, obs)
    if kind == "index":
        want = np.fromfile(want_path, dtype="<i4")
        bad = int(np.count_nonzero(got != want))
        print(f"{path}: {bad} of {len(want)} indices differ")
        sys.exit(1 if bad or got.dtype != np.int64 else 0)
    want = np.fromfile(want_path, dtype="<f4").reshape(-1, int(a_dim))
    worst = float(np.max(np.abs(got.astype(np.float64) - want)))
    print(f"{path}: max |difference| {worst:.3g} over {want.size} values")
    sys.exit(1 if worst > 1e-5 or got.shape != want.shape else 0)


if __name__ == "__main__":
    main()

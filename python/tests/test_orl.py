"""Tests of the Python binding (python/orl) against the liborl.so of a build: ctest runs them
with ORL_LIBRARY, ORL_ABI_PROBE, ORL_PROGRAM and ORL_SOURCE_DIR set (CMakeLists.txt). The files
orl writes are read back with h5py, and the binding's answers are compared with the orl
program's on the same inputs."""

import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.environ.get("ORL_SOURCE_DIR", ".."), "python"))
import orl  # noqa: E402
from orl import _capi  # noqa: E402

PROGRAM = os.environ.get("ORL_PROGRAM", "orl")


def run_orl(*args, code=0):
    """The program's stdout; its exit status must be code."""
    out = subprocess.run([PROGRAM, *args], capture_output=True, text=True)
    if out.returncode != code:
        raise AssertionError(f"orl {' '.join(args)}: exit {out.returncode}: {out.stderr}")
    return out.stdout


class Scratch(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="orl-python-")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def path(self, name):
        return os.path.join(self.dir, name)


class TestLayouts(unittest.TestCase):
    def test_every_mirrored_struct_matches_the_compiler(self):
        probe = json.loads(subprocess.run([os.environ["ORL_ABI_PROBE"]], capture_output=True,
                                          text=True, check=True).stdout)
        self.assertEqual(set(probe), set(_capi.STRUCTS))
        for name, cls in _capi.STRUCTS.items():
            self.assertEqual(probe[name]["size"], _capi.ctypes.sizeof(cls), name)
            for field, offset in probe[name]["fields"].items():
                self.assertEqual(getattr(cls, field).offset, offset, f"{name}.{field}")

    def test_version_is_the_programs(self):
        self.assertEqual(run_orl("--version").split()[1], orl.__version__)


class TestDatasets(Scratch):
    def test_read_equals_h5py_and_views_the_librarys_memory(self):
        path = orl.gen("Pendulum-v1", "medium", self.path("p.h5"), episodes=3, seed=4)
        data = orl.read(path)
        with h5py.File(path) as f:
            for key in ("observations", "next_observations", "actions", "rewards",
                        "infos/action_log_probs"):
                np.testing.assert_array_equal(data[key], f[key][()], key)
            for key in ("terminals", "timeouts"):
                np.testing.assert_array_equal(data[key], f[key][()].astype(bool), key)
        self.assertEqual(data["observations"].shape, (600, 3))
        self.assertEqual(data["observations"].dtype, np.float32)
        self.assertEqual(data["terminals"].dtype, np.bool_)
        self.assertEqual(data.meta["env_id"], "Pendulum-v1")
        self.assertEqual(list(data.meta["episode_offsets"]), [0, 200, 400, 600])
        self.assertFalse(data["observations"].flags.owndata)  # a view, not a copy
        # one array outlives the dict and a collection: the memory stays valid
        obs, want = data["observations"], data["observations"].copy()
        del data
        gc.collect()
        np.testing.assert_array_equal(obs, want)

    def test_write_then_read_round_trips_in_every_layout(self):
        path = orl.gen("CartPole-v1", "random", self.path("c.h5"), episodes=4, seed=1)
        with h5py.File(path) as f:  # plain NumPy arrays, as an h5py or Minari user has them
            plain = {k: f[k][()] for k in ("observations", "next_observations", "actions",
                                           "rewards", "terminals", "timeouts")}
        for name in ("w.h5", "w.sqlite"):
            out = orl.write(self.path(name), plain, env_id="CartPole-v1", n_actions=2)
            back = orl.read(out)
            for key, want in plain.items():
                np.testing.assert_array_equal(back[key], want.astype(back[key].dtype), key)
            self.assertEqual(back.meta["action_kind"], "discrete")
            self.assertEqual(back.meta["n_actions"], 2)
            self.assertNotIn("infos/action_log_probs", back)
        with h5py.File(self.path("w.h5")) as f:  # h5py reads what the binding wrote
            np.testing.assert_array_equal(f["actions"][()], plain["actions"])

    def test_bad_input_raises_naming_it_and_leaves_no_file(self):
        path = orl.gen("Pendulum-v1", "random", self.path("p.h5"), episodes=1, seed=0)
        data = {k: np.array(v) for k, v in orl.read(path).items()}
        data["rewards"][7] = np.nan
        with self.assertRaises(orl.Error) as e:
            orl.write(self.path("bad.h5"), data)
        self.assertIn("rew", e.exception.message)
        del data["next_observations"]
        with self.assertRaises(orl.Error) as e:
            orl.write(self.path("bad.h5"), data)
        self.assertEqual(e.exception.status, "input")
        self.assertIn("next_observations", str(e.exception))
        self.assertEqual(sorted(os.listdir(self.dir)), ["p.h5"])
        with self.assertRaises(orl.Error) as e:
            orl.read(self.path("missing.h5"))
        self.assertIn("missing.h5", str(e.exception))


class TestPolicies(Scratch):
    def test_log_prob_equals_the_logged_behaviour_probabilities(self):
        for env in ("Pendulum-v1", "CartPole-v1"):
            data = orl.read(orl.gen(env, "medium", self.path("d.h5"), episodes=2, seed=3))
            pi = orl.Policy(f"builtin:{env}/medium")
            lp = pi.log_prob(data["observations"], data["actions"])
            np.testing.assert_allclose(lp, data["infos/action_log_probs"], rtol=1e-5,
                                       atol=1e-5, err_msg=env)

    def test_act_batches_rows_and_files_agree(self):
        data = orl.read(orl.gen("Pendulum-v1", "medium", self.path("d.h5"), episodes=2, seed=3))
        result = orl.train(data, "bc", self.path("bc.h5"), steps=300, seed=5,
                           set={"hidden": 32})
        self.assertEqual(result["steps_done"], 300)
        self.assertIn("loss", result["metrics"])
        self.assertEqual(result["config"]["algo"] if "algo" in result["config"] else "bc", "bc")
        pi = orl.Policy(self.path("bc.h5"))
        obs = data["observations"][:150]
        batch = pi.act(obs)
        self.assertEqual(batch.shape, (150, 1))
        np.testing.assert_array_equal(batch, result["policy"].act(obs))  # saved == in memory
        # rows one at a time, and batches split at a small work's size (GEMMs of other
        # shapes, so equal to rounding)
        rows = np.stack([pi.act(o) for o in obs])
        np.testing.assert_allclose(batch, rows, rtol=1e-5, atol=1e-6)
        small = orl.Policy(self.path("bc.h5"), max_batch=64)
        np.testing.assert_allclose(batch, small.act(obs), rtol=1e-5, atol=1e-6)
        self.assertTrue(np.all(np.abs(batch) <= 2.0))
        with self.assertRaises(orl.Error) as e:  # a deterministic head has no density
            pi.log_prob(obs, batch)
        self.assertEqual(e.exception.status, "unsupported")
        with self.assertRaises(orl.Error):
            pi.act(np.zeros((3, 4), np.float32))

    def test_policies_in_reference_cycles_are_freed_in_order(self):
        # the garbage collector finalizes a cycle's objects in any order; the policy's work
        # must still go before the policy (it once did not: a use after free at exit)
        code = ("import gc, orl\n"
                "for i in range(50):\n"
                "    p = orl.Policy('builtin:Pendulum-v1/medium'); p.cycle = p\n"
                "    del p\n"
                "    if i % 10 == 9: gc.collect()\n")
        env = dict(os.environ, MALLOC_PERTURB_="165", MALLOC_CHECK_="3",
                   PYTHONPATH=os.path.join(os.environ.get("ORL_SOURCE_DIR", ".."), "python"))
        run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True)
        self.assertEqual(run.returncode, 0, run.stderr)

    def test_sampling_is_seeded(self):
        pi = orl.Policy("builtin:Pendulum-v1/medium")
        obs = np.zeros((5, 3), np.float32)
        pi.seed(9)
        a = pi.act(obs, mode="sample")
        pi.seed(9)
        np.testing.assert_array_equal(a, pi.act(obs, mode="sample"))
        self.assertFalse(np.all(a == a[0]))


class TestVerbs(Scratch):
    def test_evaluate_equals_orl_eval(self):
        got = orl.evaluate("builtin:CartPole-v1/medium", "CartPole-v1", episodes=4, seed=2,
                           mode="sample")
        want = json.loads(run_orl("eval", "builtin:CartPole-v1/medium", "--env", "CartPole-v1",
                                  "--episodes", "4", "--seed", "2", "--mode", "sample",
                                  "--json"))
        self.assertAlmostEqual(got["return_mean"], want["return_mean"], places=9)
        self.assertEqual(got["episodes"], 4)

    def test_ope_equals_orl_ope(self):
        path = orl.gen("CartPole-v1", "medium", self.path("d.h5"), episodes=10, seed=1)
        policy = "builtin:CartPole-v1/expert"
        got = orl.ope([policy], path, estimators="is,wis", seed=3, fail_below=0.0)
        want = json.loads(run_orl("ope", policy, "--data", path, "--estimators", "is,wis",
                                  "--seed", "3", "--fail-below", "0", "--format", "json",
                                  code=0 if got["passed"] else 1))
        self.assertEqual(got, want)
        again = orl.ope(policy, orl.read(path), estimators="is,wis", seed=3)  # from arrays
        self.assertEqual(again["policies"][0]["estimates"], want["policies"][0]["estimates"])

    def test_learners_and_training_errors(self):
        names = orl.learners()
        for name in ("bc", "awr", "iql", "cql", "td3bc", "bcq"):
            self.assertIn(name, names)
        data = orl.read(orl.gen("Pendulum-v1", "random", self.path("d.h5"), episodes=1, seed=0))
        with self.assertRaises(orl.Error) as e:
            orl.train(data, "iql", steps=10, set={"no_such_key": 1})
        self.assertIn("no_such_key", str(e.exception))


class TestInstall(Scratch):
    def test_pip_installs_offline_and_imports(self):
        src = shutil.copytree(os.path.join(os.environ["ORL_SOURCE_DIR"], "python"),
                              self.path("src"), ignore=shutil.ignore_patterns("tests"))
        target = self.path("site")
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-index",
                        "--no-build-isolation", "--no-deps", "--target", target, src],
                       check=True, capture_output=True)
        env = dict(os.environ, PYTHONPATH=target)
        out = subprocess.run([sys.executable, "-c", "import orl; print(orl.__file__, "
                              "orl.__version__)"], env=env, capture_output=True, text=True,
                             check=True, cwd=self.dir).stdout.split()
        self.assertTrue(out[0].startswith(target))
        self.assertEqual(out[1], orl.__version__)


if __name__ == "__main__":
    unittest.main()

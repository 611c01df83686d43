#!/usr/bin/env bash
# Installs every Debian package orl's build, tests and benchmarks need. gnuplot-nox draws the
# orl bench report's pictures; GNU parallel and Open MPI are two of the engines orl bench runs
# jobs on (tests/test_bench_cli.c runs both for real; each is skipped with a note if absent).
# Idempotent and non-interactive; run as root (or with sudo available) on Debian 12.
# --bench also installs what the side-by-side benchmarks compare against (PyTorch, for
# bench/vs-torch.sh); the build and the tests never need it.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libhdf5-dev hdf5-tools zlib1g-dev
  libsqlite3-dev sqlite3
  libopenblas-dev
  libjansson-dev
  libcriterion-dev
  clang libclang-rt-14-dev
  libmujoco-dev
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev
  python3 python3-h5py python3-numpy python3-pip python3-setuptools
  python3-onnx
  gnuplot-nox parallel openmpi-bin
)
[ "${1:-}" = "--bench" ] && packages+=(python3-torch)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && { echo "install-deps: all ${#packages[@]} packages present"; exit 0; }

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"

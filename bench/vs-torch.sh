#!/usr/bin/env bash
# bench/vs-torch.sh REFDIR [STEPS]: orl's training updates per second side by side with the
# PyTorch reference update loops of REFDIR (torch_learners_ref.py, torch_iql_ref.py: CORL's
# shapes, obs 17, act 6, batch 256), in one run on this machine, at 1 and 2 threads, at width
# 256 and 64. Needs Debian's python3-torch (scripts/install-deps.sh --bench) and a build
# (build/bench/train). Runs one program at a time; prints JSON lines, then one "vs_torch" line
# per (learner, width, threads) with the ratio orl / torch. THREADS="1" runs one thread count only.
set -euo pipefail
ref=${1:?usage: bench/vs-torch.sh REFDIR [STEPS]}
steps=${2:-1000}
top=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for t in ${THREADS:-1 2}; do
  # PyTorch's set_num_threads does not bound the OpenBLAS it calls for sgemm (Debian's torch
  # links libblas.so.3 -> OpenBLAS, which otherwise starts one thread per core): pin both
  # thread pools to T for every program, or "1 thread" PyTorch runs its GEMMs on 2 cores.
  export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t
  "$top/build/bench/train" --threads "$t" --cases corl,small --steps "$steps" | tee -a "$out"
  for algo in mlp td3bc cql bcq; do
    for h in 256 64; do
      [ "$algo" = cql ] && [ "$h" = 64 ] && continue   # CQL's reference has fixed 3x256 critics
      [ "$algo" = bcq ] && [ "$h" = 64 ] && continue   # BCQ's reference has fixed 750/400-300 nets
      "$py" "$ref/torch_learners_ref.py" "$algo" "$((steps / 4 > 50 ? steps / 4 : 50))" "$t" "$h" | tee -a "$out"
    done
  done
  # the IQL reference prints text: make it a JSON line
  "$py" "$ref/torch_iql_ref.py" "$steps" "$t" |
    sed -E 's/^torch ([^ ]+) threads=([0-9]+) iql updates\/s ([0-9.]+)$/{"ref":"torch","version":"\1","algo":"iql","threads":\2,"hidden":256,"updates_per_s":\3}/' |
    tee -a "$out"
done

"$py" - "$out" <<'EOF'
import json, sys
orl, torch = {}, {}
for line in open(sys.argv[1]):
    try: j = json.loads(line)
    except ValueError: continue
    if j.get("bench") == "train":
        orl[(j["algo"], j["hidden"], j["threads"])] = j["updates_per_s"]
    elif j.get("ref") == "torch":
        torch[(j["algo"], j["hidden"], j["threads"])] = j["updates_per_s"]
names = {"mlp": "bc"}
for (algo, h, t), v in sorted(torch.items()):
    mine = orl.get((names.get(algo, algo), h, t))
    if mine is None: continue
    print(json.dumps({"bench": "vs_torch", "algo": names.get(algo, algo), "hidden": h, "threads": t,
                      "orl_updates_per_s": mine, "torch_updates_per_s": v, "ratio": round(mine / v, 2)}))
EOF

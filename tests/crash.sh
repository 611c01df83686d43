#!/usr/bin/env bash
# tests/crash.sh ORL: real kill -9 at several points of a run, then the same command again.
# - orl ingest --append into SQLite: the retry adds exactly the missing episodes, so the file's
#   content equals one uninterrupted run's (episodes are recognised by source, position and a
#   hash of their rows);
# - a killed write to a new file leaves only a hidden temporary, which the next run on the
#   same output removes;
# - orl train with checkpoints, offline (BC) and online (SAC on Pendulum-v1): a kill (during a
#   checkpoint write or between them) leaves a usable checkpoint, and --resume ends with the
#   same parameters as an uninterrupted run;
# - two processes appending to one SQLite file at once both complete; nothing is lost or
#   duplicated.
# - files that crash libhdf5 itself (fuzz/hdf5-crashes/; libhdf5 does not checksum most
#   metadata): orl exits 2 naming the file instead of dying of the signal, and a conversion
#   leaves neither output nor temporary; a file on which libhdf5 loops forever: a second
#   SIGTERM stops orl at once, naming the file, with neither output nor temporary.
# Kill points are fractions of the uninterrupted run's measured time; the log says how far each
# killed run had got.
set -euo pipefail
orl=${1:?usage: crash.sh ORL}
crashes=$(cd "$(dirname "$0")/../fuzz/hdf5-crashes" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
fail() { echo "crash.sh: $*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# a log of 800 episodes of 500 rows, and a small first log the database starts with
awk 'BEGIN { srand(7); print "episode,o0,o1,o2,a0,r,done";
  for (e = 0; e < 800; e++) for (t = 0; t < 500; t++)
    printf "%d,%.5f,%.5f,%.5f,%.4f,%.4f,%d\n", e, rand(), rand(), rand(), 2 * rand() - 1,
      rand(), t == 499 }' >log.csv
head -1 log.csv >first.csv
awk -F, 'NR > 1 && $1 < 3' log.csv >>first.csv
map=(--obs o0,o1,o2 --act a0 --reward r --episode episode --terminal done)
ingest() { "$orl" ingest "$1" -o "$2" --append "${map[@]}" >/dev/null; }
content() {
  sqlite3 "$1" "SELECT e.id, e.first_step, e.length, e.return, e.terminated, e.timeout, e.source,
    e.key, e.hash, hex(s.obs), hex(s.next_obs), hex(s.act), s.rew, s.terminal, s.timeout
    FROM episodes e JOIN steps s ON s.episode = e.id ORDER BY e.id, s.t" | md5sum
}
episodes() { sqlite3 "$1" "SELECT count(*) FROM episodes" 2>/dev/null || echo "?"; }
no_temporaries() {
  local left
  left=$(find . -name '.*.tmp-*' | head -3)
  [ -z "$left" ] || fail "temporary files left behind: $left"
}

# ---- ingest --append, killed and retried ----
ingest first.csv ref.sqlite
t0=$(now_ms); ingest log.csv ref.sqlite; t_ingest=$(( $(now_ms) - t0 ))
want=$(content ref.sqlite)
for f in 10 35 60 85; do
  db=append-$f.sqlite
  ingest first.csv "$db"
  ingest log.csv "$db" & pid=$!
  sleep "$(awk -v t="$t_ingest" -v f="$f" 'BEGIN { printf "%.3f", t * f / 100000 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  at=$(episodes "$db")
  ingest log.csv "$db"
  [ "$(content "$db")" = "$want" ] || fail "append killed at $f% ($at episodes) then retried differs"
  echo "ingest --append killed at $f% of ${t_ingest} ms ($at of 803 episodes in); retry: same content"
done
no_temporaries

# ---- a new file, killed: only a temporary stays, and the next run removes it ----
"$orl" ingest log.csv -o new.h5 "${map[@]}" >/dev/null & pid=$!
sleep "$(awk -v t="$t_ingest" 'BEGIN { printf "%.3f", t * 0.3 / 1000 }')"
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
[ ! -e new.h5 ] || echo "(the first write finished before the kill)"
"$orl" ingest log.csv -o new.h5 "${map[@]}" >/dev/null
"$orl" validate new.h5 >/dev/null
no_temporaries
echo "killed write to a new file: the rerun removed the temporary and wrote a valid file"

# ---- train with checkpoints, killed and resumed ----
"$orl" gen --env Pendulum-v1 --behavior medium --episodes 5 --seed 3 -o pend.h5 >/dev/null
train() {
  "$orl" train --algo bc --data pend.h5 --steps 4000 --seed 5 --set hidden=64 \
    --checkpoint-every 100 "$@" 2>/dev/null >/dev/null
}
t0=$(now_ms); train -o ref.h5; t_train=$(( $(now_ms) - t0 ))
want=$(h5dump -d /params ref.h5 | tail -n +2 | md5sum)
for f in 20 50 80; do
  train -o p$f.h5 & pid=$!
  sleep "$(awk -v t="$t_train" -v f="$f" 'BEGIN { printf "%.3f", t * f / 100000 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  train -o p$f.h5 --resume
  [ "$(h5dump -d /params p$f.h5 | tail -n +2 | md5sum)" = "$want" ] ||
    fail "train killed at $f% then resumed: parameters differ from the uninterrupted run"
  echo "train killed at $f% of ${t_train} ms; --resume: same parameters"
done
no_temporaries

# ---- online SAC with checkpoints (the replay buffer, the episode in progress), killed and
# resumed; a kill before the first checkpoint leaves none, and the rerun starts afresh ----
online() {
  OPENBLAS_NUM_THREADS=1 "$orl" train --algo sac --env Pendulum-v1 --steps 20000 --warmup 500 \
    --seed 5 --set hidden=16 --batch 64 --checkpoint-every 1000 "$@" 2>/dev/null >/dev/null
}
t0=$(now_ms); online -o sac-ref.h5; t_online=$(( $(now_ms) - t0 ))
want=$(h5dump -d /params sac-ref.h5 | tail -n +2 | md5sum)
for f in 20 50 80; do
  online -o sac$f.h5 & pid=$!
  sleep "$(awk -v t="$t_online" -v f="$f" 'BEGIN { printf "%.3f", t * f / 100000 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  how="--resume"
  [ -e sac$f.h5.ckpt ] || how="a fresh start (no checkpoint yet)"
  if [ -e sac$f.h5.ckpt ]; then online -o sac$f.h5 --resume; else online -o sac$f.h5; fi
  [ "$(h5dump -d /params sac$f.h5 | tail -n +2 | md5sum)" = "$want" ] ||
    fail "online sac killed at $f% then rerun ($how): parameters differ from the uninterrupted run"
  echo "online sac killed at $f% of ${t_online} ms; $how: same parameters"
done
no_temporaries

# ---- two appenders at once ----
head -1 log.csv >a.csv; head -1 log.csv >b.csv
awk -F, 'NR > 1 && $1 % 2 == 0' log.csv >>a.csv
awk -F, 'NR > 1 && $1 % 2 == 1' log.csv >>b.csv
ingest first.csv both.sqlite
ingest a.csv both.sqlite & pa=$!
ingest b.csv both.sqlite & pb=$!
wait "$pa" || fail "appender a failed"
wait "$pb" || fail "appender b failed"
[ "$(episodes both.sqlite)" = 803 ] || fail "two appenders: $(episodes both.sqlite) episodes, expected 803"
ingest a.csv both.sqlite & pa=$!
ingest b.csv both.sqlite & pb=$!
wait "$pa" && wait "$pb" || fail "retried appenders failed"
[ "$(episodes both.sqlite)" = 803 ] || fail "retried appenders added episodes again"
[ "$(sqlite3 both.sqlite "SELECT count(*) FROM (SELECT DISTINCT source, key FROM episodes)")" = 803 ] ||
  fail "an episode (source, key) is in the database twice"
"$orl" validate both.sqlite >/dev/null
echo "two appenders at once: 803 episodes, none duplicated; both retried: unchanged"

# ---- files on which libhdf5 itself crashes ----
# (each input's first byte is the fuzz harness's selector; the file is the rest)
for input in h5f-accum-read-overflow h5vm-memcpyvv-chunk-read; do
  tail -c +2 "$crashes/$input" >hostile.h5
  rc=0
  "$orl" info hostile.h5 >/dev/null 2>err.txt || rc=$?
  [ $rc -eq 2 ] || fail "orl info on $input: exit $rc, expected 2: $(head -c 300 err.txt)"
  grep -q "hostile.h5" err.txt || fail "orl info on $input: the message does not name the file"
  rc=0
  "$orl" convert hostile.h5 out-$input.sqlite >/dev/null 2>err.txt || rc=$?
  [ $rc -eq 2 ] || fail "orl convert on $input: exit $rc, expected 2: $(head -c 300 err.txt)"
  [ ! -e out-$input.sqlite ] || fail "orl convert on $input left its output"
  no_temporaries
  echo "$input: orl info and orl convert exit 2 naming the file; nothing written"
done

# ---- a file on which libhdf5 loops forever: the second SIGTERM stops orl at once ----
tail -c +2 "$crashes/h5hg-read-vlen-hang" >hang.h5
"$orl" convert hang.h5 out-hang.sqlite >/dev/null 2>err.txt & pid=$!
sleep 2
kill -0 "$pid" 2>/dev/null || fail "orl convert on h5hg-read-vlen-hang ended by itself (libhdf5 fixed?)"
kill -TERM "$pid"
sleep 0.5
kill -0 "$pid" 2>/dev/null || fail "orl convert on h5hg-read-vlen-hang stopped at the first SIGTERM"
kill -TERM "$pid"
for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fail "a second SIGTERM did not stop orl within 5 s"; fi
rc=0
wait "$pid" || rc=$?
[ $rc -eq 143 ] || fail "orl convert stopped by SIGTERM twice: exit $rc, expected 143: $(head -c 300 err.txt)"
grep -q "hang.h5" err.txt || fail "the message after two SIGTERMs does not name the file: $(cat err.txt)"
[ ! -e out-hang.sqlite ] || fail "orl convert stopped by SIGTERM twice left its output"
no_temporaries
echo "h5hg-read-vlen-hang: libhdf5 loops; the second SIGTERM stops orl convert at once (exit 143, file named, nothing written)"

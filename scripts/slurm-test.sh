#!/usr/bin/env bash
# Scale-out on a real scheduler: starts a single-node Slurm cluster on this machine (Debian's
# slurm-wlm and munge; installed when missing and running as root), submits an array job of
# 4 tasks that each process one share of a manifest of 9 small synthetic bursts (one of them
# corrupt) with `obscura process --manifest M --shard I/4`, and checks:
#   - every good burst has exactly one output, and nothing else is in the output folder;
#   - the corrupt burst is reported in its task's log (and that task fails);
#   - a rerun of the array skips every finished output (their files are not rewritten).
# It stops the daemons it started (by their process ids) and exits non-zero on any failure.
# Without root or the packages it prints a notice and exits 0.
# Usage: bash scripts/slurm-test.sh   (docs/SCALING.md explains the job file it submits)
set -euo pipefail
cd "$(dirname "$0")/.."

notice() { echo "slurm-test: $*; skipped"; exit 0; }
fail() { echo "slurm-test: FAILED: $*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || notice "needs root to start slurmd and munged"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge \
    >/dev/null) || notice "could not install slurm-wlm and munge"
fi
command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
  || notice "slurm-wlm or munge is not installed"

cargo build --release -q
bin=$PWD/target/release/obscura
work=$(mktemp -d /tmp/obscura-slurm.XXXXXX)
chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# --- munge, on its own socket and key ---
mkdir -p "$work/munge"
chown munge:munge "$work/munge" 2>/dev/null || true
dd if=/dev/urandom of="$work/munge/munge.key" bs=1 count=1024 status=none
chown munge:munge "$work/munge/munge.key" 2>/dev/null || true
chmod 400 "$work/munge/munge.key"
sock=$work/munge/munge.socket
munge_user=munge
id munge >/dev/null 2>&1 || munge_user=root
runuser -u "$munge_user" -- /usr/sbin/munged -F --force --socket="$sock" \
  --key-file="$work/munge/munge.key" --pid-file="$work/munge/munged.pid" \
  --log-file="$work/munge/munged.log" --seed-file="$work/munge/seed" >/dev/null 2>&1 &
pids+=($!)

# --- slurm.conf: controller and node on localhost, free ports ---
host=$(hostname -s)
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2/1024/2)}' /proc/meminfo)
mkdir -p "$work/state" "$work/spool" "$work/logs" "$work/out"
cat > "$work/slurm.conf" <<EOF
ClusterName=obscura-test
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$(port)
SlurmdPort=$(port)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$sock
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/slurmctld.log
SlurmdLogFile=$work/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$work/slurm.conf
for _ in $(seq 50); do [[ -S $sock ]] && break; sleep 0.1; done
[[ -S $sock ]] || fail "munged did not start: $(cat "$work/munge/munged.log" 2>/dev/null)"
/usr/sbin/slurmctld -D -i -f "$SLURM_CONF" >>"$work/slurmctld.out" 2>&1 &
pids+=($!)
/usr/sbin/slurmd -D -f "$SLURM_CONF" -N "$host" >>"$work/slurmd.out" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
  sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed)' && break
  sleep 0.3
done
sinfo -h -o %T | grep -qE '^(idle|mixed)' \
  || fail "the node did not come up: $(sinfo 2>&1; tail -5 "$work/slurmctld.log" "$work/slurmd.log")"

# --- 8 good bursts and a corrupt one, in a manifest ---
manifest=$work/manifest.txt
: > "$manifest"
for k in 1 2 3 4 5 6 7 8; do
  "$bin" -q synth --out "$work/bursts/b$k" --frames 3 --width 96 --height 64 --seed "$k" >/dev/null
  rm -f "$work/bursts/b$k"/*.tiff "$work/bursts/b$k"/*.json
  echo "$work/bursts/b$k" >> "$manifest"
done
mkdir -p "$work/bursts/corrupt"
cp "$work/bursts/b1"/*.dng "$work/bursts/corrupt/"
truncate -s 300 "$work/bursts/corrupt/frame_01.dng"
echo "$work/bursts/corrupt" >> "$manifest"

# --- the array job (the template in docs/SCALING.md) ---
job=$work/obscura-array.sbatch
cat > "$job" <<EOF
#!/bin/bash
#SBATCH --job-name=obscura
#SBATCH --array=1-4
#SBATCH --cpus-per-task=1
#SBATCH --output=$work/logs/task_%a_run%x.log
"$bin" process --manifest "$manifest" --shard "\${SLURM_ARRAY_TASK_ID}/4" --threads 1 \\
  -o "$work/out"
EOF

run_array() {
  local name=$1
  # --wait returns the array's worst exit status; the corrupt burst's task fails on purpose
  sbatch --wait --job-name="$name" --output="$work/logs/task_%a_$name.log" "$job" \
    > "$work/logs/sbatch_$name.txt" 2>&1 || true
  grep -q "Submitted batch job" "$work/logs/sbatch_$name.txt" \
    || fail "sbatch: $(cat "$work/logs/sbatch_$name.txt")"
}

echo "slurm-test: cluster up after ${SECONDS}s; submitting"
run_array first
echo "slurm-test: first array done after ${SECONDS}s"
for k in 1 2 3 4 5 6 7 8; do
  [[ -s $work/out/b$k.jpg ]] || fail "burst b$k has no output: $(cat "$work"/logs/task_*_first.log)"
done
extra=$(find "$work/out" -type f ! -name 'b[1-8].jpg' | wc -l)
[[ $extra == 0 ]] || fail "unexpected files in the output folder: $(ls -A "$work/out")"
[[ $(find "$work/out" -type f | wc -l) == 8 ]] || fail "expected 8 outputs: $(ls -A "$work/out")"
grep -l "corrupt" "$work"/logs/task_*_first.log >/dev/null \
  || fail "no task log names the corrupt burst: $(cat "$work"/logs/task_*_first.log)"
tasks=$(ls "$work"/logs/task_*_first.log | wc -l)
[[ $tasks == 4 ]] || fail "expected 4 task logs, found $tasks"

# --- rerun: finished outputs are skipped, not rewritten ---
before=$(stat -c '%n %Y %s' "$work"/out/*.jpg | md5sum)
sleep 1.1
run_array again
after=$(stat -c '%n %Y %s' "$work"/out/*.jpg | md5sum)
[[ $before == "$after" ]] || fail "the rerun rewrote finished outputs"
grep -qi "skip" "$work"/logs/task_*_again.log \
  || fail "the rerun did not report skipped bursts: $(cat "$work"/logs/task_*_again.log)"

echo "slurm-test: ok: 4 array tasks on a single-node Slurm $(sinfo -V | awk '{print $2}'), 8 bursts with" \
  "one output each, the corrupt burst reported in $(grep -l corrupt "$work"/logs/task_*_first.log |
  xargs -n1 basename), the rerun skipped all 8"

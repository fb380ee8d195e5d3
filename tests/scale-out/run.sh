#!/usr/bin/env bash
# The scale-out check: the shipped Slurm and GNU parallel examples (examples/slurm/,
# examples/parallel/) run for real and merge to the same bytes as one machine.
#
#   tests/scale-out/run.sh        (as root: it installs what is missing with apt-get)
#
# 1. a local `dynasim sweep --jobs 2` of a small grid: the reference sweep.json;
# 2. a throwaway single-node Slurm cluster (munged, slurmctld, slurmd), with its own
#    munge key, slurm.conf, state and logs in a temporary folder and on loopback only;
#    examples/slurm/nrw-sweep.sbatch as an array job plus the dependent
#    examples/slurm/nrw-merge.sbatch: sweep.json must be byte-identical to the reference;
# 3. the same, with one array task failing on purpose (one of its run files cannot be
#    written, so it exits 1 after finishing its other runs); the task resubmitted alone must
#    keep the runs it had finished, run the missing one, and merge to the same bytes;
# 4. examples/parallel/nrw-sweep.sh, local, and through its --sshlogin branch with `:`
#    (GNU parallel's name for this machine, no ssh): the same bytes again.
# On exit, failed or not, it cancels its jobs, stops exactly the daemons it started (by
# pid) and removes its folder. Needs target/release/dynasim (or DYNASIM=path).
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
DYNASIM=${DYNASIM:-$ROOT/target/release/dynasim}
[[ -x $DYNASIM ]] || { echo "error: $DYNASIM is missing: cargo build --release first" >&2; exit 1; }
export DYNASIM

# 2 settings x 2 x 3 seeds = 12 runs of a 10-simulated-second nrw-tuning with its partition
# moved into that window; 3 shards of 4 runs each.
# shellcheck disable=SC2054 # the commas are in the grid values
SWEEP=("$ROOT/scenarios/nrw-tuning.json" --set duration_s=10 --set faults.0.at_s=3
    --set faults.0.duration_s=5 --grid replication.r=1,2 --grid replication.w=1,2 --seeds 1..3)
SHARDS=3
WAIT_S=120 # the bound on each wait for Slurm jobs

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
STARTED=$(now)
PART_STARTED=$STARTED
part() {
    [[ -z ${PART:-} ]] || echo "   ($PART: $(since "$PART_STARTED") s)"
    PART=$1
    PART_STARTED=$(now)
    echo "== scale-out: $1"
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
PASSED=0
same_bytes() { # what, file, reference
    [[ -f $2 ]] || fail "$1: $2 was not written"
    local a b
    a=$(sha "$2")
    b=$(sha "$3")
    echo "   sha256 $a  $1 sweep.json"
    echo "   sha256 $b  local --jobs 2 sweep.json"
    cmp -s "$2" "$3" || fail "$1: sweep.json differs from the local sweep"
    PASSED=$((PASSED + 1))
}

# --- the test folder, and cleaning up -----------------------------------------------------
T=$(mktemp -d /tmp/dynasim-scale-out.XXXXXX)
chmod 755 "$T"
export SLURM_CONF=$T/slurm.conf # every Slurm command here talks to this cluster only
PIDS=()   # daemons we started, in start order
POLICY="" # a policy-rc.d we put in place for the install, if any
cleanup() {
    local rc=$?
    set +e
    [[ -z $POLICY ]] || rm -f "$POLICY"
    if ((${#PIDS[@]})) && [[ -f $SLURM_CONF ]]; then
        scancel --quiet --user=root 2>/dev/null
        local until=$((SECONDS + 20))
        while squeue -h 2>/dev/null | grep -q . && ((SECONDS < until)); do sleep 0.5; done
    fi
    if ((rc != 0)); then
        for f in "$T"/log/* "$T"/*/slurm-*.out; do
            [[ -f $f ]] || continue
            echo "--- $f (last lines)" >&2
            tail -n 15 "$f" >&2
        done
    fi
    local i pid
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        pid=${PIDS[i]}
        kill -TERM "$pid" 2>/dev/null || continue
        local until=$((SECONDS + 15))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < until)); do sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    ((${#PIDS[@]})) && echo "   stopped the daemons started here (pids ${PIDS[*]})"
    rm -rf "$T"
    echo "   ($PART: $(since "$PART_STARTED") s; total: $(since "$STARTED") s)"
    ((rc != 0)) || echo "scale-out: $PASSED passed, 0 failed"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# --- install what is missing -------------------------------------------------------------
part "packages"
missing=()
command -v slurmctld >/dev/null || missing+=(slurm-wlm)
command -v munged >/dev/null || missing+=(munge)
{ parallel --version 2>/dev/null || true; } | grep -q 'GNU parallel' || missing+=(parallel)
if ((${#missing[@]})); then
    [[ $(id -u) == 0 ]] || fail "need root to install ${missing[*]}"
    # Installing must not start the packages' own daemons: this test runs its own.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        POLICY=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$POLICY"
        chmod 755 "$POLICY"
    fi
    echo "   installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
    if [[ -n $POLICY ]]; then rm -f "$POLICY"; POLICY=""; fi
else
    echo "   slurm-wlm, munge, parallel: already installed"
fi
echo "   $(slurmctld -V), $(munged -V 2>&1 | head -1), $(parallel --version | head -1)"

# A free loopback port: one nothing answers on.
free_port() {
    local p
    for p in $(seq "$1" "$(($1 + 200))"); do
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    fail "no free port near $1"
}

part "local reference (dynasim sweep --jobs 2)"
"$DYNASIM" sweep "${SWEEP[@]}" --jobs 2 --quiet --out "$T/local"
REF=$T/local/sweep.json
[[ -f $REF ]] || fail "the local sweep wrote no sweep.json"
echo "   sha256 $(sha "$REF")  local --jobs 2 sweep.json (12 runs)"

part "Slurm cluster up"
mkdir -p "$T/munge" "$T/state" "$T/spool" "$T/log" "$T/slurm" "$T/resume" "$T/parallel"
chmod 700 "$T/state" "$T/spool"
mungekey --create --keyfile="$T/munge/munge.key"
MUNGE_SOCKET=$T/munge/munge.socket
munged --foreground --socket="$MUNGE_SOCKET" --key-file="$T/munge/munge.key" \
    --pid-file="$T/munge/munged.pid" --seed-file="$T/munge/munged.seed" \
    --log-file="$T/log/munged.log" --origin=127.0.0.1 >>"$T/log/munged.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $MUNGE_SOCKET ]] && break; sleep 0.1; done
munge --socket="$MUNGE_SOCKET" -n | unmunge --socket="$MUNGE_SOCKET" >/dev/null ||
    fail "munged does not answer"

HOST=$(hostname -s)
# This host as slurmd sees it (CPUs, sockets, cores, memory), renamed to the short name.
NODE=$(slurmd -C | head -1 | sed "s/^NodeName=[^ ]*/NodeName=$HOST/")
CTLD_PORT=$(free_port 26817)
SLURMD_PORT=$(free_port $((CTLD_PORT + 1)))
cat >"$SLURM_CONF" <<EOF
# A single-node cluster for tests/scale-out/run.sh; everything in $T, loopback only.
ClusterName=dynasim-scale-out
SlurmctldHost=$HOST(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
AuthInfo=socket=$MUNGE_SOCKET
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=2
MinJobAge=600
$NODE NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
EOF
echo "   node: $NODE; ports $CTLD_PORT, $SLURMD_PORT on 127.0.0.1"
slurmctld -D -f "$SLURM_CONF" >>"$T/log/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" >>"$T/log/slurmd.out" 2>&1 &
PIDS+=($!)
state=""
for _ in $(seq 150); do
    state=$(sinfo -h -N -o %t 2>/dev/null || true)
    [[ $state == idle ]] && break
    sleep 0.2
done
[[ $state == idle ]] || fail "the node is not idle after 30 s (sinfo: ${state:-no answer})"
sinfo | sed 's/^/   /'
# Loopback only: each daemon listens on 127.0.0.1, not on every address.
for port in "$CTLD_PORT" "$SLURMD_PORT"; do
    hex=$(printf '%04X' "$port")
    grep -q " 0100007F:$hex 00000000:0000 0A" /proc/net/tcp || fail "nothing listens on 127.0.0.1:$port"
    if grep -q " 00000000:$hex 00000000:0000 0A" /proc/net/tcp; then fail "port $port listens on every address"; fi
done
echo "   slurmctld and slurmd listen on 127.0.0.1 only"

# Waits until none of the given jobs is pending or running, for at most WAIT_S seconds.
wait_jobs() {
    local until=$((SECONDS + WAIT_S)) ids
    ids=$(
        IFS=,
        echo "$*"
    )
    while squeue -h -j "$ids" 2>/dev/null | grep -q .; do
        ((SECONDS < until)) || { squeue -j "$ids" >&2; fail "jobs $ids still queued after ${WAIT_S} s"; }
        sleep 0.5
    done
}
# The state of a job or array task: COMPLETED, FAILED, CANCELLED, ...
job_state() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }
expect_state() { # job, state
    local s
    s=$(job_state "$1")
    [[ $s == "$2" ]] || fail "job $1 is $s, expected $2"
}
submit_sweep() { # extra sbatch options..., then --: the sweep folder prefix is $SWEEP_OUT
    sbatch --parsable --cpus-per-task=1 --time=00:05:00 "$@" \
        "$ROOT/examples/slurm/nrw-sweep.sbatch" "${SWEEP[@]}"
}
submit_merge() { # the array job it waits for
    sbatch --parsable --dependency=afterok:"$1" --kill-on-invalid-dep=yes \
        "$ROOT/examples/slurm/nrw-merge.sbatch"
}

part "Slurm: array job of $SHARDS shards + dependent merge"
cd "$T/slurm"
export SWEEP_OUT=sweeps/nrw
job=$(submit_sweep --array=1-$SHARDS)
merge=$(submit_merge "$job")
echo "   array job $job, merge job $merge"
wait_jobs "$job" "$merge"
for k in $(seq "$SHARDS"); do expect_state "${job}_$k" COMPLETED; done
expect_state "$merge" COMPLETED
same_bytes "Slurm merged" "$T/slurm/sweeps/nrw/sweep.json" "$REF"

part "Slurm: a failed task resubmitted alone resumes its shard"
cd "$T/resume"
export SWEEP_OUT=sweeps/nrw
# Shard 2's last run: a non-empty folder where its result file goes makes writing it fail,
# so task 2 exits 1 after finishing its other runs.
runs=$(cd "$T/slurm/sweeps/nrw-shard-2/runs" && ls)
blocked=$(echo "$runs" | tail -1)
mkdir -p "sweeps/nrw-shard-2/runs/$blocked/blocker"
job=$(submit_sweep --array=1-$SHARDS)
merge=$(submit_merge "$job")
echo "   array job $job (task 2 cannot write $blocked), merge job $merge"
wait_jobs "$job" "$merge"
expect_state "${job}_1" COMPLETED
expect_state "${job}_2" FAILED
expect_state "${job}_3" COMPLETED
expect_state "$merge" CANCELLED
[[ ! -e sweeps/nrw/sweep.json ]] || fail "a merge ran although task 2 failed"
grep -q "cannot write" slurm-"${job}"_2.out || fail "task 2 failed for another reason"
rm -r "sweeps/nrw-shard-2/runs/$blocked"
kept=$(cd sweeps/nrw-shard-2/runs && ls)
[[ $kept == "$(echo "$runs" | grep -vxF "$blocked")" ]] ||
    fail "after the failure shard 2 holds: $kept"
mapfile -t kept_files <<<"$kept"
# Inode and modification time of the runs task 2 had finished: a rewrite would change both.
kept_stat() { (cd sweeps/nrw-shard-2/runs && stat -c '%i %Y %n' -- "${kept_files[@]}"); }
before=$(kept_stat)
echo "   task 2 FAILED with ${#kept_files[@]} of $(echo "$runs" | wc -l) runs done; merge job CANCELLED"
# A one-task array has a task count of 1: without SHARDS the task refuses to guess.
guess=$(submit_sweep --array=2)
wait_jobs "$guess"
expect_state "${guess}_2" FAILED
grep -q "give the number of shards" "slurm-${guess}_2.out" || fail "task $guess did not ask for SHARDS"
[[ $(kept_stat) == "$before" ]] || fail "the refused task touched shard 2"
echo "   task 2 resubmitted without SHARDS: refused (FAILED, asks for SHARDS)"
again=$(SHARDS=$SHARDS submit_sweep --array=2)
merge=$(submit_merge "$again")
echo "   task 2 resubmitted alone as job $again (SHARDS=$SHARDS), merge job $merge"
wait_jobs "$again" "$merge"
expect_state "${again}_2" COMPLETED
expect_state "$merge" COMPLETED
[[ $(kept_stat) == "$before" ]] || fail "the resubmitted task rewrote runs it had finished"
[[ $(cd sweeps/nrw-shard-2/runs && ls) == "$runs" ]] || fail "shard 2 is not complete"
echo "   the ${#kept_files[@]} finished runs were kept (same inodes), $blocked was run"
same_bytes "Slurm resumed and merged" "$T/resume/sweeps/nrw/sweep.json" "$REF"

part "GNU parallel: $SHARDS local shards + merge"
cd "$T/parallel"
SHARDS=$SHARDS SWEEP_OUT=sweeps/local bash "$ROOT/examples/parallel/nrw-sweep.sh" \
    "${SWEEP[@]}" >/dev/null
same_bytes "GNU parallel merged" "$T/parallel/sweeps/local/sweep.json" "$REF"

part "GNU parallel: the --sshlogin branch, with this machine (:)"
SHARDS=$SHARDS SWEEP_OUT=sweeps/sshlogin SSHLOGIN=: bash "$ROOT/examples/parallel/nrw-sweep.sh" \
    "${SWEEP[@]}" >/dev/null
same_bytes "GNU parallel (--sshlogin :) merged" "$T/parallel/sweeps/sshlogin/sweep.json" "$REF"

part "stop"
cd "$ROOT"

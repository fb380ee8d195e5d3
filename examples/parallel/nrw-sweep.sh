#!/usr/bin/env bash
# A dynasim sweep split into shards with GNU parallel, then merged (see docs/sweep.md,
# "With GNU parallel").
#
#   examples/parallel/nrw-sweep.sh [SCENARIO [SWEEP OPTIONS...]]
#
# With no arguments: scenarios/nrw-tuning.json over R, W = 1..3 and seeds 1..20. Arguments
# replace that (scenario first, then any `dynasim sweep` options but --shard, --jobs, --out
# and --quiet). Environment:
#   SHARDS     how many shards [4]
#   SWEEP_OUT  folder prefix: shards go to SWEEP_OUT-shard-K, the merged sweep to SWEEP_OUT
#              [sweeps/nrw]
#   DYNASIM    the dynasim binary [dynasim on PATH]
#   SSHLOGIN   unset: every shard on this machine, at once, one simulation each
#              (--jobs 1). Set: passed to parallel's --sshlogin (e.g. host1,host2, or
#              4/host1,host2 for four shards at a time on host1): one shard at a time per
#              host, each using all of its host's cores. Every host needs dynasim (at the
#              same path if DYNASIM is a path) and this folder at the same path on a shared
#              file system, since the shards write there (--workdir .); without one, copy
#              the shard folders back before the merge (parallel's --return, or rsync).
set -euo pipefail
: "${SHARDS:=4}" "${SWEEP_OUT:=sweeps/nrw}" "${DYNASIM:=dynasim}"
if (($# == 0)); then
    set -- scenarios/nrw-tuning.json \
        --grid replication.r=1,2,3 --grid replication.w=1,2,3 --seeds 1..20
fi
if [[ -n "${SSHLOGIN:-}" ]]; then
    where=(--sshlogin "$SSHLOGIN" --workdir . --jobs 1)
    per_shard=()
else
    where=(--jobs "$SHARDS")
    per_shard=(--jobs 1)
fi
# -q quotes the command, so values with spaces or JSON reach dynasim intact, also over ssh.
# --halt soon,fail=1: after a failing shard no new one starts; rerunning this script resumes
# every shard from the runs it had finished.
parallel -q "${where[@]}" --halt soon,fail=1 \
    "$DYNASIM" sweep "$@" "${per_shard[@]}" --quiet \
    --shard "{}/$SHARDS" --out "$SWEEP_OUT-shard-{}" ::: $(seq 1 "$SHARDS")
shard_dirs=()
for k in $(seq 1 "$SHARDS"); do shard_dirs+=("$SWEEP_OUT-shard-$k"); done
"$DYNASIM" merge "${shard_dirs[@]}" --out "$SWEEP_OUT"

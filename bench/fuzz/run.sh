#!/usr/bin/env bash
# Runs the libFuzzer target for N inputs (default 10,000,000) and prints the inputs run and
# the traps found. Builds the target first when a source is newer than it. The corpus grows
# in bench/fuzz/.build/corpus (seeded with valid encodings on the first run); a trap's input
# is saved as bench/fuzz/.build/crash-<sha1>, and replays with
#   bench/fuzz/.build/raft-fuzz bench/fuzz/.build/crash-<sha1>
set -euo pipefail
runs=${1:-10000000}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$here/.build
binary=$out/raft-fuzz
sources=("$here"/*.swift "$root"/Sources/{BinaryCoding,SeededRandom,Consensus,Hashing,TrackerStateMachine,TrackerProtocol,TrackerHosting,DurableLog}/*.swift "$root"/Tests/TestSupport/*.swift "$root"/Tests/ConsensusTests/*.swift)
if [[ ! -x $binary ]] || [[ -n $(find "${sources[@]}" "$here/build.sh" -newer "$binary" 2>/dev/null | head -1) ]]; then
    "$here/build.sh"
fi
mkdir -p "$out/corpus"
if [[ -z $(ls -A "$out/corpus") ]]; then FUZZ_SEED_DIR=$out/corpus "$binary" -runs=0 "$out/corpus" >/dev/null 2>&1; fi
log=$out/last-run.log
before=$(ls "$out" | grep -c '^crash-' || true)
start=$(date +%s)
set +e
# The Swift runtime's backtracer would take the trap signal before libFuzzer saves the input.
SWIFT_BACKTRACE=enable=no "$binary" -runs="$runs" -print_final_stats=1 -artifact_prefix="$out/" -max_len=512 -timeout=10 -rss_limit_mb=2048 "$out/corpus" >"$log" 2>&1
status=$?
set -e
seconds=$(( $(date +%s) - start ))
executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
if [[ -z $executed ]]; then executed=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true); fi
after=$(ls "$out" | grep -c '^crash-\|^timeout-\|^oom-' || true)
traps=$(( after - before > 0 ? after - before : 0 ))
echo "inputs run: ${executed:-0} in ${seconds} s"
echo "traps found: $traps"
if (( status != 0 && traps == 0 )); then
    echo "the fuzzer stopped early (exit status $status) without saving an input; see $log"
    exit "$status"
fi
if (( traps > 0 )); then
    crash=$(ls -t "$out" | grep -m1 -E '^(crash|timeout|oom)-' || true)
    if [[ -n $crash ]]; then
        echo "input: $out/$crash; its trap:"
        { "$binary" "$out/$crash" 2>&1 || true; } | grep -E -A7 'crashed:$' | tail -n +2 | grep -v '^$' || true
    fi
    echo "full log: $log"
    exit 1
fi

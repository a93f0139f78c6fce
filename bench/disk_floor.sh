#!/usr/bin/env bash
# The disk's floor for the download benchmark: copy the 1 GiB test file with dd and fsync it,
# once alone (scenario A writes one file) and four at once (scenario B writes four), with no
# network and no hashing. A download that fsyncs its file before the rename cannot beat these.
# Usage: bench/disk_floor.sh TESTFILE WORKDIR
set -euo pipefail
TESTFILE=$1
WORK=$2
mkdir -p "$WORK"
cat "$TESTFILE" > /dev/null
t0=$(date +%s.%N)
dd if="$TESTFILE" of="$WORK/one.bin" bs=512K conv=fsync status=none
t1=$(date +%s.%N)
rm -f "$WORK/one.bin"
pids=()
for i in 1 2 3 4; do dd if="$TESTFILE" of="$WORK/four$i.bin" bs=512K conv=fsync status=none & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
t2=$(date +%s.%N)
rm -f "$WORK"/four?.bin
python3 -c "print(f'disk floor: 1 GiB copied + fsync alone {$t1-$t0:.2f} s; four 1 GiB copies + fsync at once {$t2-$t1:.2f} s')"

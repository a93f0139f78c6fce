#!/usr/bin/env bash
# A large file end to end on 127.0.0.1: a sparse file of SIZE (default 32G: 65,536 pieces, above
# the tracker's inline limit of 32,768, so its piece hashes travel as a SHA-256 of the list that
# the downloader fetches from the sharer) uploaded by one client and downloaded by another
# (download-bench scenario L: every piece SHA-1-checked, the whole file's SHA-1 checked, fsync,
# rename), then checked again here. Also the scheduler alone at that piece count, in process.
# Usage: bench/large_file.sh [SIZE]   env: SCRATCH=.build-swarm WORK=/var/tmp/large-file-bench
# Needs twice SIZE of free disk in WORK's file system briefly (the copy is real, the source sparse).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
SIZE=${1:-32G}
SCRATCH=${SCRATCH:-.build-swarm}
WORK=${WORK:-/var/tmp/large-file-bench}
cleanup() { rm -rf "$WORK"; }
trap cleanup EXIT
rm -rf "$WORK"; mkdir -p "$WORK"
(cd "$REPO" && for p in client tracker-node download-bench; do
    swift build -c release --scratch-path "$SCRATCH" --product "$p" > /dev/null; done)
BIN="$REPO/$SCRATCH/release"
truncate -s "$SIZE" "$WORK/large.bin"
bytes=$(stat -c %s "$WORK/large.bin")
pieces=$(( (bytes + 524287) / 524288 ))
echo "# $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg); file $bytes bytes (sparse), $pieces pieces"
"$BIN/download-bench" --scheduler "$pieces"
"$BIN/download-bench" --bin "$BIN" --file "$WORK/large.bin" --work "$WORK/ours" --runs 1 --scenarios L
grep -h "piece list fetched\|download complete" "$WORK"/ours/client-d1.log | sed 's/^/# d1: /' | cut -c1-200 || true
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

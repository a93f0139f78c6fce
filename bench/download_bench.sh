#!/usr/bin/env bash
# Download benchmark: our client against aria2c BitTorrent, in the same run, on 127.0.0.1 only.
# 1 GiB deterministic test file (anchors' lib.sh ensure_testfile), 512 KiB pieces.
#   (A) three sharers -> one downloader;  (B) one sharer -> four downloaders started together.
# Ours: bench/DownloadBench (3 tracker-node processes + 7 client processes, release build);
#   time = download_file sent -> show_downloads says complete (every piece SHA-1-checked, whole-file
#   SHA-1 checked, file fsynced and renamed into place).
# aria2: the anchors' bt_bench.sh unchanged (aria2c + mktorrent + opentracker, DHT/LPD/PEX off),
#   run from a copy so its raw output stays in the work folder; A = start -> complete hook, B = all 4 complete.
# Also: openssl SHA-1 speed on one core (the physical limit of verification).
# Usage: bench/download_bench.sh   env: RUNS=3 SCRATCH=.build-cl ANCHORS=/work/shared/anchors WORK=/tmp/dlbench-run
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# What the aria2 side needs (Debian packages): installed with apt-get when we are root, else
# named, and the benchmark stops before it starts anything.
need_tools() {
    local missing=() pkgs=() t
    declare -A pkg=([aria2c]=aria2 [mktorrent]=mktorrent [opentracker]=opentracker [openssl]=openssl [python3]=python3 [taskset]=util-linux)
    for t in "${!pkg[@]}"; do command -v "$t" > /dev/null || { missing+=("$t"); pkgs+=("${pkg[$t]}"); }; done
    [[ ${#missing[@]} == 0 ]] && return 0
    if [[ $(id -u) == 0 ]]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" > /dev/null 2>&1 ||
            { apt-get update -qq > /dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" > /dev/null 2>&1; } || true
    fi
    local still=()
    for t in "${missing[@]}"; do command -v "$t" > /dev/null || still+=("$t"); done
    if [[ ${#still[@]} -gt 0 ]]; then
        echo "download_bench: missing ${still[*]}; install them with: sudo apt-get install ${pkgs[*]}" >&2
        exit 2
    fi
}
need_tools
REPO=$(cd "$HERE/.." && pwd)
ANCHORS=${ANCHORS:-/work/shared/anchors}
RUNS=${RUNS:-3}
SCRATCH=${SCRATCH:-.build-cl}
WORK=${WORK:-/tmp/dlbench-run}
rm -rf "$WORK"; mkdir -p "$WORK"
cp -r "$ANCHORS" "$WORK/anchors"
rm -rf "$WORK/anchors/raw"
source "$WORK/anchors/lib.sh"
trap 'cleanup_testfile' EXIT

echo "# $(machine_info)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
(cd "$REPO" && for p in client tracker-node download-bench; do
    swift build -c release --scratch-path "$SCRATCH" --product "$p" > /dev/null; done)
BIN="$REPO/$SCRATCH/release"
ensure_testfile
cat "$TESTFILE" > /dev/null

echo "## openssl SHA-1, one core"
speed=$(taskset -c 1 openssl speed -mr -evp sha1 -seconds 2 -bytes 524288 2>/dev/null | awk -F: '/^\+F:/{print $4}')
python3 -c "print(f'openssl speed -evp sha1, 512 KiB blocks: {float(\"$speed\")/1e9:.3f} GB/s')"
t0=$(date +%s.%N); taskset -c 1 openssl dgst -sha1 "$TESTFILE" > /dev/null; t1=$(date +%s.%N)
python3 -c "print(f'openssl dgst -sha1 on the 1 GiB file: {$t1-$t0:.3f} s = {1.073741824/($t1-$t0):.3f} GB/s')"

echo "## disk floor (dd + fsync, no network, no hashing)"
bash "$HERE/disk_floor.sh" "$TESTFILE" "$WORK/disk" | tee "$WORK/disk.txt"

echo "## ours (client, $RUNS runs per scenario)"
# download-bench reports a child that died and exits non-zero; the comparison needs its figures.
if ! "$BIN/download-bench" --bin "$BIN" --file "$TESTFILE" --work "$WORK/ours" --runs "$RUNS" --scenarios "A B" | tee "$WORK/ours.txt" \
    || grep -q "download-bench failed" "$WORK/ours.txt"; then
    echo "download_bench: our benchmark failed (see above); logs in $WORK/ours" >&2
    exit 1
fi

echo "## aria2c BitTorrent (anchors' bt_bench.sh, $RUNS runs per scenario)"
KEEP_TESTFILE=1 RUNS=$RUNS bash "$WORK/anchors/bt_bench.sh" "A B" | tee "$WORK/aria2.txt"

echo "## comparison (medians)"
python3 - "$WORK/ours.txt" "$WORK/anchors/raw/bt_A.txt" "$WORK/anchors/raw/bt_B.txt" "$WORK/disk.txt" <<'PY'
import re, statistics, sys
ours = open(sys.argv[1]).read()
disk = open(sys.argv[4]).read()
one = float(re.search(r"alone ([0-9.]+) s", disk).group(1))
four = float(re.search(r"at once ([0-9.]+) s", disk).group(1))
oa = [float(x) for x in re.findall(r"ours A run=\d+ seconds=([0-9.]+)", ours)]
ob = [float(x) for x in re.findall(r"ours B run=\d+ all_seconds=([0-9.]+)", ours)]
aa = [float(x) for x in re.findall(r"complete_s=([0-9.]+)", open(sys.argv[2]).read())]
ab = [float(x) for x in re.findall(r"all_s=([0-9.]+)", open(sys.argv[3]).read())]
m = statistics.median
mb = 1073.741824
print(f"A (3 sharers -> 1): ours {m(oa):.2f} s = {mb/m(oa):.0f} MB/s [runs {', '.join(f'{x:.2f}' for x in oa)}]; "
      f"aria2 {m(aa):.2f} s = {mb/m(aa):.0f} MB/s [runs {', '.join(f'{x:.2f}' for x in aa)}]; ratio aria2/ours {m(aa)/m(oa):.2f}x")
print(f"B (1 -> 4 together): ours all four {m(ob):.2f} s [runs {', '.join(f'{x:.2f}' for x in ob)}]; "
      f"aria2 {m(ab):.2f} s [runs {', '.join(f'{x:.2f}' for x in ab)}]; ratio aria2/ours {m(ab)/m(ob):.2f}x")
print(f"against the disk floor of this run: A ours {m(oa):.2f} s = {m(oa)/one:.2f}x one copy + fsync ({one:.2f} s); "
      f"B ours {m(ob):.2f} s = {m(ob)/four:.2f}x four parallel copies + fsync ({four:.2f} s; target <= 1.3x)")
PY
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

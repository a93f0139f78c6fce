#!/usr/bin/env bash
# The tracker cluster against etcd 3.4, same machine, same run.
#
#   bench/tracker_vs_etcd.sh            # ROUNDS=1 by default; ROUNDS=3 bench/tracker_vs_etcd.sh
#
# Per round, alternating so that both systems see the same machine state:
#   1. tracker-bench load     --concurrency 1,16,64 --seconds 10   (fresh 3-tracker cluster per level,
#                                                                    default timings hb 50 / el 150 ms)
#   2. etcd_load_bench.py     --gens wrk --conc 1,16,64 --duration 10 (fresh 3-member cluster, the
#                                                                    anchor's load timings hb 100 / el 1000)
#   3. tracker-bench failover --trials 5                             (default timings hb 50 / el 150)
#   4. tracker-bench failover --trials 5 --tracker-args "--heartbeat-ms 50 --election-ms 250"
#                                                                   (etcd's failover timings, for a
#                                                                    like-for-like row; SAME_TIMINGS=0 skips)
#   5. etcd_failover.py       --trials 5 --configs 50:250
# Then a table of medians [min-max] over rounds, with ratios.
#
# Environment: ROUNDS (1), SECONDS_PER_LEVEL (10), CONCURRENCY (1,16,64), TRIALS (5),
# SECURITY (tls: trackers and bench clients over pinned TLS, as trackers run by default; insecure:
# plaintext, --insecure, like the etcd members, which run without TLS here),
# ANCHORS_SRC (/work/shared/anchors), SCRATCH (.build-bench), OUT (a new temp folder; kept).
# Only processes started here are stopped (tracker-bench kills its own trackers; the anchor
# scripts kill the etcd pids in their own pid file). Uses 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-1}"
SECONDS_PER_LEVEL="${SECONDS_PER_LEVEL:-10}"
CONCURRENCY="${CONCURRENCY:-1,16,64}"
TRIALS="${TRIALS:-5}"
SAME_TIMINGS="${SAME_TIMINGS:-1}"
SECURITY="${SECURITY:-tls}"
[[ "$SECURITY" == tls || "$SECURITY" == insecure ]] || { echo "SECURITY is tls or insecure" >&2; exit 2; }
ANCHORS_SRC="${ANCHORS_SRC:-/work/shared/anchors}"
SCRATCH="${SCRATCH:-.build-bench}"
OUT="${OUT:-$(mktemp -d /tmp/tracker-vs-etcd-XXXXXX)}"
mkdir -p "$OUT/raw"

log() { printf '[%s] %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$OUT/run.log" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- 1. tools --------------------------------------------------------------------------------
missing=()
command -v etcd >/dev/null || missing+=(etcd-server)
command -v etcdctl >/dev/null || missing+=(etcd-client)
command -v wrk >/dev/null || missing+=(wrk)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then echo "need root to install ${missing[*]}" >&2; exit 1; fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
log "etcd: $(etcd --version 2>/dev/null | head -1); wrk: $(wrk --version 2>&1 | head -1 | cut -c1-40)"

# --- 2. build --------------------------------------------------------------------------------
cd "$ROOT"
log "building tracker-node and tracker-bench (release, scratch $SCRATCH)"
swift build -c release --scratch-path "$SCRATCH" --product tracker-node 2>&1 | tail -1
swift build -c release --scratch-path "$SCRATCH" --product tracker-bench 2>&1 | tail -1
BIN="$(swift build -c release --scratch-path "$SCRATCH" --show-bin-path)"
NODE="$BIN/tracker-node"
BENCH="$BIN/tracker-bench"

# --- 3. anchor scripts, copied (they write raw/ beside themselves) ---------------------------
cp -r "$ANCHORS_SRC" "$OUT/anchors"
export ANCHORS_DIR="$OUT/etcd-data"      # etcd data dirs / pid file / logs, not /tmp/anchors
mkdir -p "$ANCHORS_DIR"
cleanup() {
    # etcd_cluster.py stop signals only the pids in its own pid file ($ANCHORS_DIR/etcd.pids).
    python3 "$OUT/anchors/etcd_cluster.py" stop >/dev/null 2>&1 || true
    rm -rf "$ANCHORS_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for port in 23791 23792 23793 23801 23802 23803; do
    if ss -Hltn "sport = :$port" | grep -q .; then
        echo "port $port is in use (another etcd?): not starting ours" >&2
        exit 1
    fi
done

log "machine: nproc $(nproc), load average $(loadavg); trackers: $SECURITY; output in $OUT"
for ((r = 1; r <= ROUNDS; r++)); do
    log "round $r/$ROUNDS: tracker load (load average $(loadavg))"
    "$BENCH" load --binary "$NODE" --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_LEVEL" --round "$r" --security "$SECURITY" \
        | tee -a "$OUT/raw/tracker.log" | grep '^{' >>"$OUT/raw/tracker.jsonl" || log "tracker load reported a failure"
    log "round $r/$ROUNDS: etcd load (load average $(loadavg))"
    python3 "$OUT/anchors/etcd_load_bench.py" --rounds 1 --gens wrk --conc "$CONCURRENCY" \
        --duration "$SECONDS_PER_LEVEL" --out "$OUT/raw/etcd_load_r$r.jsonl" | tee -a "$OUT/raw/etcd.log" >/dev/null
    log "round $r/$ROUNDS: tracker failover, default timings (load average $(loadavg))"
    "$BENCH" failover --binary "$NODE" --trials "$TRIALS" --round "$r" --security "$SECURITY" \
        | tee -a "$OUT/raw/tracker.log" | grep '^{' >>"$OUT/raw/tracker.jsonl" || log "tracker failover reported a failure"
    if [[ "$SAME_TIMINGS" == 1 ]]; then
        log "round $r/$ROUNDS: tracker failover, hb 50 / el 250 (load average $(loadavg))"
        "$BENCH" failover --binary "$NODE" --trials "$TRIALS" --round "$r" \
            --security "$SECURITY" --tracker-args "--heartbeat-ms 50 --election-ms 250" \
            | tee -a "$OUT/raw/tracker.log" | grep '^{' >>"$OUT/raw/tracker.jsonl" || log "tracker failover reported a failure"
    fi
    log "round $r/$ROUNDS: etcd failover hb 50 / el 250 (load average $(loadavg))"
    python3 "$OUT/anchors/etcd_failover.py" --trials "$TRIALS" --configs 50:250 \
        --out "$OUT/raw/etcd_failover_r$r.jsonl" | tee -a "$OUT/raw/etcd.log" >/dev/null
done
log "done (load average $(loadavg))"

# --- 4. table --------------------------------------------------------------------------------
python3 - "$OUT/raw" "$CONCURRENCY" "$SECONDS_PER_LEVEL" <<'EOF' | tee "$OUT/table.md"
import glob, json, os, statistics, sys
raw, concs, secs = sys.argv[1], [int(c) for c in sys.argv[2].split(",")], sys.argv[3]
trk = [json.loads(l) for l in open(os.path.join(raw, "tracker.jsonl")) if l.startswith("{")]
etl, etf = [], []
for path in sorted(glob.glob(os.path.join(raw, "etcd_load_r*.jsonl"))):
    r = int(path.rsplit("_r", 1)[1].split(".")[0])
    etl += [dict(json.loads(l), round=r) for l in open(path) if l.startswith("{")]
for path in sorted(glob.glob(os.path.join(raw, "etcd_failover_r*.jsonl"))):
    etf += [json.loads(l) for l in open(path) if l.startswith("{")]

def med(v): return statistics.median(v) if v else float("nan")
def span(v, d=1):
    if not v: return "n/a"
    return f"{med(v):.{d}f} [{min(v):.{d}f}–{max(v):.{d}f}]" if len(v) > 1 else f"{v[0]:.{d}f}"

rounds = len({x["round"] for x in trk if x.get("mode") == "load"})
print(f"\n## Tracker vs etcd 3.4, 3 members on 127.0.0.1, fsync on — medians [min–max] over {rounds} round(s)\n")
print(f"Load: closed loop, {secs} s per level after 1 s warm-up, fresh cluster per level. Tracker: `createGroup` "
      "through the binary protocol (TrackerClient), default timings hb 50 / el 150 ms. etcd: `PUT /v3/kv/put` "
      "through the JSON gateway with wrk to the leader, hb 100 / el 1000 ms (the anchor's load timings).\n")
print("| c | tracker w/s | etcd w/s | w/s ratio | tracker p50 ms | etcd p50 ms | tracker p99 ms | etcd p99 ms | p99 ratio (etcd/tracker) | tracker cores | etcd cores | errors t/e | target (≥2× w/s, lower p99) |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for c in concs:
    t = [x for x in trk if x.get("mode") == "load" and x.get("conc") == c and "ops_s" in x]
    e = [x for x in etl if x.get("conc") == c]
    tw, ew = [x["ops_s"] for x in t], [x["ops_s"] for x in e]
    tp99, ep99 = [x["p99_ms"] for x in t], [x["p99_ms"] for x in e]
    ratio = med(tw) / med(ew) if tw and ew else float("nan")
    pratio = med(ep99) / med(tp99) if tp99 and ep99 else float("nan")
    ok = "PASS" if ratio >= 2 and med(tp99) < med(ep99) else "FAIL"
    print(f"| {c} | {span(tw,0)} | {span(ew,0)} | **{ratio:.2f}×** | {span([x['p50_ms'] for x in t],2)} | "
          f"{span([x['p50_ms'] for x in e],2)} | {span(tp99,2)} | {span(ep99,2)} | {pratio:.2f}× | "
          f"{span([x['tracker_cores'] for x in t],2)} | {span([x['etcd_cores'] for x in e],2)} | "
          f"{sum(x['errors'] for x in t)}/{sum(x['errors'] + x.get('sock_err', 0) for x in e)} | {ok} |")
lost = sum(x.get("acked_missing", 0) for x in trk if x.get("mode") == "load")
elections = [(x["round"], x["conc"], x.get("term_changes")) for x in trk if x.get("mode") == "load" and x.get("term_changes")]
print(f"\nTracker load: acknowledged writes missing from list_groups afterwards: {lost}. "
      f"Elections during a load run (round, c, term changes): {elections or 'none'}.")
failed = [x for x in trk if isinstance(x.get("failed"), str)]
if failed: print(f"Tracker measurements that failed: {failed}")

print("\nFailover: kill -9 of the leader under an open-loop writer (one write every 5 ms), window = kill → first "
      "acknowledged write committed by the new leader; fresh cluster per trial.\n")
print("| system (timings) | trials | window median s | min s | max s | per-trial windows s | acked | acked lost | ratio vs etcd (median) |")
print("|---|---|---|---|---|---|---|---|---|")
ew = [x["window_s"] for x in etf if x.get("window_s") is not None]
rows = []
for label, timings in [("tracker (default hb 50 / el 150)", "defaults"),
                       ("tracker (hb 50 / el 250)", "--heartbeat-ms 50 --election-ms 250")]:
    t = [x for x in trk if x.get("mode") == "failover" and x.get("timings") == timings and "window_s" in x]
    if t: rows.append((label, t, [x["window_s"] for x in t if x["window_s"] is not None]))
for label, t, w in rows:
    print(f"| {label} | {len(t)} | **{med(w):.3f}** | {min(w):.3f} | {max(w):.3f} | "
          f"{', '.join(f'{v:.2f}' for v in w)} | {sum(x['acked'] for x in t)} | {sum(x['lost_acked'] for x in t)} | "
          f"{med(w)/med(ew):.2f}× |" if w and ew else f"| {label} | {len(t)} | n/a |")
if ew:
    print(f"| etcd (hb 50 / el 250) | {len(etf)} | **{med(ew):.3f}** | {min(ew):.3f} | {max(ew):.3f} | "
          f"{', '.join(f'{v:.2f}' for v in ew)} | {sum(x['acked'] for x in etf)} | {sum(x['lost_acked'] for x in etf)} | 1.00× |")
moved = [(x["round"], x["trial"], x.get("timings")) for x in trk
         if x.get("mode") == "failover" and x.get("setup_term") is not None and x["old_term"] > x["setup_term"]]
print(f"\nTracker trials whose leader had already changed (spontaneous election) between start-up and the kill "
      f"(the bench kills the leader of the moment): {moved or 'none'}.")
if rows:
    w = rows[0][2]
    print(f"\nTarget: median window ≤ 0.300 s with default timings: {'PASS' if w and med(w) <= 0.3 else 'FAIL'} "
          f"({med(w):.3f} s).")
EOF
log "raw data and table in $OUT"

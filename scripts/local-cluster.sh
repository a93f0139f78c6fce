#!/usr/bin/env bash
# A local tracker cluster in one command.
#   scripts/local-cluster.sh up [IP:PORT]   build, start the trackers of cluster.conf in the
#                                           background, then run a client in the foreground
#                                           (serving pieces on IP:PORT, default 127.0.0.1:9001)
#   scripts/local-cluster.sh start          build and start the trackers only
#   scripts/local-cluster.sh stop           stop the trackers this script started (SIGTERM)
#   scripts/local-cluster.sh status         which trackers run, and the cluster's view
# Logs: data/logs/tracker-<id>.log; data: data/tracker-<id>; pids: data/pids/tracker-<id>.pid
# Everything is TLS: each tracker's key pair is made in its data directory (tracker-node
# --print-fingerprint), and data/cluster.conf is cluster.conf with every line pinning its
# tracker's fingerprint; the trackers and the client run with data/cluster.conf.
set -euo pipefail
cd "$(dirname "$0")/.."
source_conf=cluster.conf
conf=data/cluster.conf
bin=.build/release

# Passes SwiftPM's "[n/m] Compiling ..." progress through: on a terminal as one line redrawn in
# place, otherwise a line each. Everything goes to the log file $1 as well.
show_progress() {
    local log=$1 line width
    width=$(tput cols 2>/dev/null || echo 80)
    while IFS= read -r line; do
        printf '%s\n' "$line" >>"$log"
        case "$line" in
            \[*/*\]*) if [ -t 1 ]; then printf '\r\033[K%s' "${line:0:$((width - 1))}"; else printf '%s\n' "$line"; fi ;;
        esac
    done
    if [ -t 1 ]; then printf '\r\033[K'; fi
}

# Builds tracker-node and client in release mode, showing the build's progress; on a failure it
# prints the compiler's errors (or the end of the build's output) and stops.
build() {
    local log product
    log=$(mktemp)
    echo "building tracker-node and client (swift build -c release; a first build takes a few minutes)"
    for product in tracker-node client; do
        if ! swift build -c release --product "$product" 2>&1 | show_progress "$log"; then
            echo "building $product failed:" >&2
            grep -E "error:" "$log" >&2 || tail -n 40 "$log" >&2
            rm -f "$log"
            exit 1
        fi
    done
    rm -f "$log"
    echo "build complete"
}

ids() { grep -v '^[[:space:]]*#' "$source_conf" | awk 'NF >= 2 { print $1 }'; }

# Writes data/cluster.conf: each line of cluster.conf with its tracker's fingerprint (made on
# the first run, kept after), replacing any fingerprint the line had; comments are dropped.
pin_fingerprints() {
    local id fingerprint tmp
    tmp=$(mktemp data/cluster.conf.XXXXXX)
    grep -v '^[[:space:]]*#' "$source_conf" | awk 'NF >= 2' | while read -r id address rest; do
        fingerprint=$("$bin/tracker-node" --conf "$source_conf" --id "$id" --data-dir "data/tracker-$id" --print-fingerprint)
        rest=$(printf '%s\n' "$rest" | sed -E 's/(^| )sha256:[0-9a-fA-F]+//; s/#.*//; s/^ +//')
        printf '%s %s %s%s\n' "$id" "$address" "$fingerprint" "${rest:+ $rest}"
    done >"$tmp"
    mv "$tmp" "$conf"
    echo "pinned the trackers' fingerprints in $conf:"
    sed 's/^/  /' "$conf"
}

start() {
    build
    (umask 077 && mkdir -p data/logs data/pids)
    pin_fingerprints
    for id in $(ids); do
        pidfile=data/pids/tracker-$id.pid
        if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "tracker $id already running (pid $(cat "$pidfile"))"
            continue
        fi
        nohup "$bin/tracker-node" --conf "$conf" --id "$id" --data-dir "data/tracker-$id" </dev/null >>"data/logs/tracker-$id.log" 2>&1 &
        echo $! >"$pidfile"
        echo "tracker $id started (pid $!, log data/logs/tracker-$id.log)"
    done
}

stop() {
    for pidfile in data/pids/tracker-*.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid"
            for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
            echo "stopped $(basename "$pidfile" .pid) (pid $pid)"
        fi
        rm -f "$pidfile"
    done
}

status() {
    for pidfile in data/pids/tracker-*.pid; do
        [ -f "$pidfile" ] || continue
        pid=$(cat "$pidfile")
        if kill -0 "$pid" 2>/dev/null; then echo "$(basename "$pidfile" .pid): running (pid $pid)"; else echo "$(basename "$pidfile" .pid): not running"; fi
    done
    echo cluster_status | "$bin/client" 127.0.0.1:9999 "$conf" 2>/dev/null || true
}

case "${1:-up}" in
    up) start; exec "$bin/client" "${2:-127.0.0.1:9001}" "$conf" ;;
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 [up [IP:PORT]|start|stop|status]" >&2; exit 2 ;;
esac

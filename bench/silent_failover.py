#!/usr/bin/env python3
"""Silent-partition failover on real links: three tracker hosts and one client host, each a
network namespace on a bridge (10.82.0.0/24, only inside the namespaces). A client writes
(create_group) one after another; after a few seconds every packet to and from the leader is
dropped with nftables (no RST: the leader's machine just goes silent). Prints, per trial and as
medians, the time from the cut to the first write acknowledged after it, and the longest gap
between acknowledgements around the cut; then checks that every acknowledged write is in the
cluster exactly once (list_groups through the new leader).

    sudo bench/silent_failover.py [--trials 5] [--bin .build/release] [--tracker-args "..."]

Installs nftables if missing (Debian). Cleans up every namespace, link and process it made.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from swarm.procs import Client, ChildDied, Procs, wait_until  # noqa: E402
from swarm.topology import require_tools, sh  # noqa: E402

PREFIX, BRIDGE, NET = "sfo", "br-sfo", "10.82.0"
HOSTS = ["t1", "t2", "t3", "c1"]


def ns(name):
    return f"{PREFIX}{HOSTS.index(name)}"


def ip(name):
    return f"{NET}.{HOSTS.index(name) + 1}"


def net_up():
    net_down()
    sh(f"ip link add {BRIDGE} type bridge && ip link set {BRIDGE} up")
    for k in range(len(HOSTS)):
        n, veth = f"{PREFIX}{k}", f"v{PREFIX}{k}"
        sh(f"ip netns add {n}")
        sh(f"ip link add {veth} type veth peer name eth0 netns {n}")
        sh(f"ip link set {veth} master {BRIDGE} up")
        sh(f"ip -n {n} addr add {NET}.{k + 1}/24 dev eth0 && ip -n {n} link set eth0 up && ip -n {n} link set lo up")


def net_down():
    for k in range(len(HOSTS)):
        sh(f"ip netns del {PREFIX}{k}", check=False)
        sh(f"ip link del v{PREFIX}{k}", check=False)
    sh(f"ip link del {BRIDGE}", check=False)


def cut(host):
    """Drops every packet into and out of `host` silently."""
    n = ns(host)
    sh(f"ip netns exec {n} nft add table inet sfocut")
    sh(f"ip netns exec {n} nft 'add chain inet sfocut in {{ type filter hook input priority 0; policy drop; }}'")
    sh(f"ip netns exec {n} nft 'add chain inet sfocut out {{ type filter hook output priority 0; policy drop; }}'")


def help_text(binary):
    r = subprocess.run([binary, "--help"], capture_output=True, text=True)
    return r.stdout + r.stderr


def write_conf(work, bindir, tracker_args):
    """cluster.conf with pinned fingerprints when tracker-node can print them, else a cluster key."""
    node = f"{bindir}/tracker-node"
    pins = {}
    if "--print-fingerprint" in help_text(node):
        plain = os.path.join(work, "plain.conf")
        with open(plain, "w") as f:
            for i in (1, 2, 3):
                f.write(f"{i} {ip(f't{i}')}:7001\n")
        for i in (1, 2, 3):
            out = subprocess.run([node, "--conf", plain, "--id", str(i), "--data-dir", f"{work}/tracker-{i}",
                                  "--print-fingerprint"], capture_output=True, text=True, timeout=30)
            pins[i] = out.stdout.strip().split()[-1]
    conf = os.path.join(work, "cluster.conf")
    with open(conf, "w") as f:
        for i in (1, 2, 3):
            f.write(f"{i} {ip(f't{i}')}:7001" + (f" {pins[i]}" if pins else "") + "\n")
    key = os.path.join(work, "cluster.key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.write(fd, (os.urandom(32).hex() + "\n").encode())
    os.close(fd)
    return conf


def leader_of(client):
    answer = client.run("cluster_status")
    for t in answer.get("trackers", []):
        if t.get("role") == "leader":
            return int(t["id"])
    return None


def trial(number, bindir, tracker_args, seconds_before, seconds_after, pace=0.01):
    procs = Procs()
    work = tempfile.mkdtemp(prefix="silent-failover-")
    try:
        net_up()
        conf = write_conf(work, bindir, tracker_args)
        for i in (1, 2, 3):
            procs.start(ns(f"t{i}"), [f"{bindir}/tracker-node", "--conf", conf, "--id", str(i),
                        "--data-dir", f"{work}/tracker-{i}"] + tracker_args, f"{work}/tracker-{i}.log")
        c = Client(procs, ns("c1"), "c1", [f"{bindir}/client", f"{ip('c1')}:9000", conf, "--json",
                   "--state-dir", f"{work}/state-c1"], f"{work}/client.log")
        if not wait_until(lambda: c.run("create_user w pw").get("ok") is True, 30, step=0.2):
            raise RuntimeError("no leader accepted create_user within 30 s")
        c.must("login w pw")
        leader = None
        if not wait_until(lambda: leader_of(c) is not None, 10, step=0.1):
            raise RuntimeError("no leader in cluster_status")
        leader = leader_of(c)
        acked, failed, k = [], 0, 0
        cut_at = None
        start = time.monotonic()
        while time.monotonic() - start < seconds_before + seconds_after:
            if cut_at is None and time.monotonic() - start >= seconds_before:
                cut(f"t{leader}")
                cut_at = time.monotonic()
            k += 1
            answer = c.run(f"create_group g{k}", timeout=60)
            if answer.get("ok") is True:
                acked.append((time.monotonic(), f"g{k}"))
            else:
                failed += 1
            time.sleep(pace)  # stays under the per-user group quota; 10 ms resolution
        after = [t for t, _ in acked if t > cut_at]
        before = [t for t, _ in acked if t <= cut_at]
        first_after = (after[0] - cut_at) if after else float("nan")
        gap = (after[0] - before[-1]) if after and before else float("nan")
        # Every acknowledged write is in the cluster once (groups are unique by id).
        listed = set()
        page = c.run("list_groups")
        for g in page.get("groups", []):
            listed.add(g.get("group") or g.get("group_id") or g.get("id"))
        missing = [g for _, g in acked if g not in listed]
        result = {"trial": number, "old_leader": leader, "writes_acked": len(acked), "writes_failed": failed,
                  "cut_to_first_ack_ms": round(first_after * 1000, 1), "ack_gap_ms": round(gap * 1000, 1),
                  "acked_missing": len(missing), "listed": len(listed)}
        print(json.dumps(result), flush=True)
        return result
    finally:
        procs.stop_all()
        net_down()
        shutil.rmtree(work, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--bin", default=".build/release")
    ap.add_argument("--tracker-args", default="")
    ap.add_argument("--before", type=float, default=3.0)
    ap.add_argument("--after", type=float, default=4.0)
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("silent_failover: needs root (network namespaces, nftables)")
    missing = require_tools({"nft": "nftables"})
    if missing:
        sys.exit(f"silent_failover: missing {', '.join(missing)} (apt-get install nftables)")
    for b in ("tracker-node", "client"):
        if not os.access(f"{a.bin}/{b}", os.X_OK):
            sys.exit(f"silent_failover: {a.bin}/{b} not built (swift build -c release)")
    results = []
    try:
        for n in range(1, a.trials + 1):
            try:
                results.append(trial(n, a.bin, a.tracker_args.split(), a.before, a.after))
            except (ChildDied, RuntimeError) as e:
                print(json.dumps({"trial": n, "error": str(e)}), flush=True)
    finally:
        net_down()
    ok = [r for r in results if r["cut_to_first_ack_ms"] == r["cut_to_first_ack_ms"]]
    if not ok:
        sys.exit("silent_failover: no trial finished")
    med = lambda xs: sorted(xs)[len(xs) // 2] if len(xs) % 2 else sum(sorted(xs)[len(xs) // 2 - 1:len(xs) // 2 + 1]) / 2
    print(f"\nsilent leader cut (nftables drop, no RST), {len(ok)} of {a.trials} trials, timings: {a.tracker_args or 'defaults'}")
    print(f"  cut -> first acknowledged write: median {med([r['cut_to_first_ack_ms'] for r in ok]):.0f} ms, "
          f"max {max(r['cut_to_first_ack_ms'] for r in ok):.0f} ms")
    print(f"  longest gap between acknowledgements: median {med([r['ack_gap_ms'] for r in ok]):.0f} ms")
    print(f"  acknowledged writes missing afterwards: {sum(r['acked_missing'] for r in ok)}")


if __name__ == "__main__":
    main()

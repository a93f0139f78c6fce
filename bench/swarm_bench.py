#!/usr/bin/env python3
"""The swarm on real links: our client against aria2c BitTorrent on shaped links, in one run.

Hosts are network namespaces on a bridge (bench/swarm/topology.py): three trackers (t1-t3), three
sharers (s1-s3) and four downloaders (d1-d4), one process group each, every link shaped with
tc tbf to RATE Mbit/s each way; files on tmpfs. Scenarios, each for ours and then aria2:
  together   1 sharer -> 4 downloaders started at once
  staggered  1 sharer -> 4 downloaders started 2 s apart
  three      3 sharers -> 1 downloader
Per scenario: time until the last downloader has the whole file verified, its ratio to the
optimum (size / link rate, plus the last start offset when staggered) and to aria2, and the bytes
the sharers uploaded per byte of file (ours: the client's served-bytes counter and the link's
byte counter; aria2: the link's byte counter). Every copy's SHA-1 is checked afterwards.

Usage (root): bench/swarm_bench.py [--mbit 1000,100] [--mib 256] [--runs 1]
              [--scenarios together,staggered,three] [--no-aria2] [--bin DIR] [--work DIR] [--logs DIR]
Installs aria2, mktorrent and opentracker with apt-get if missing (or says what is missing and
stops), builds the release binaries unless --bin is given, removes every namespace, link, mount
and process it made (also on failure or a signal), and exits non-zero when anything failed.
"""
import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from swarm.aria import Aria  # noqa: E402
from swarm.ours import Ours, sha1_of  # noqa: E402
from swarm.procs import ChildDied, Procs  # noqa: E402
from swarm.topology import Topology, require_tools  # noqa: E402

TOOLS = {"ip": "iproute2", "tc": "iproute2", "openssl": "openssl", "aria2c": "aria2", "mktorrent": "mktorrent",
         "opentracker": "opentracker"}


def say(line):
    print(line, flush=True)


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def make_file(path, size):
    """The anchors' deterministic test file: the AES-128-CTR keystream of key 00..0f."""
    subprocess.run(f"head -c {size} /dev/zero | openssl enc -aes-128-ctr -nosalt -K 000102030405060708090a0b0c0d0e0f "
                   f"-iv 00000000000000000000000000000000 -out {path}", shell=True, check=True)


def build(repo):
    scratch = os.path.join(repo, ".build-swarm")
    for product in ("client", "tracker-node"):
        subprocess.run(["swift", "build", "-c", "release", "--scratch-path", scratch, "--product", product], cwd=repo,
                       check=True, stdout=subprocess.DEVNULL)
    return os.path.join(scratch, "release")


def optimum(kind, size, mbit):
    wire = size / (mbit * 1e6 / 8)
    return wire + (6.0 if kind == "staggered" else 0.0)


def run_rate(args, mbit, source, sha1, work, bindir, results):
    topo = Topology(mbit)
    procs = Procs()
    try:
        topo.up()
        size = os.path.getsize(source)
        systems = [("ours", Ours(topo, procs, bindir, f"{work}/ours-{mbit}", source, sha1))]
        if not args.no_aria2:
            systems.append(("aria2", Aria(topo, procs, f"{work}/aria-{mbit}", source, sha1)))
        for label, system in systems:
            system.start()
            for kind in args.scenarios:
                for run in range(1, args.runs + 1):
                    before = loadavg()
                    r = system.scenario(kind, run)
                    r.update(system=label, kind=kind, run=run, mbit=mbit, load=f"{before} -> {loadavg()}",
                             optimum=optimum(kind, size, mbit))
                    results.append(r)
                    upload = f"served/file={r['served_per_file']:.3f} " if "served_per_file" in r else ""
                    say(f"{label} {kind} run={run} mbit={mbit}: last {r['last']:.2f} s = {r['last'] / r['optimum']:.2f}x "
                        f"optimum {r['optimum']:.2f} s; each {r['times']}; {upload}link tx/file={r['tx_per_file']:.3f}; "
                        f"sha1 ok {r['ok']}; load {r['load']}")
                    if not r["ok"]:
                        raise RuntimeError(f"{label} {kind}: a copy has the wrong SHA-1")
            if label == "ours":
                cpu = system.cpu_seconds()
                say("# ours CPU seconds user+system per process over all its scenarios (t1-t3, s1-s3, d1-d4): "
                    + " ".join(f"{u:.1f}+{k:.1f}" for u, k in cpu.values()))
            procs.stop_all()
    finally:
        procs.stop_all()
        topo.down()
        left = topo.leftovers()
        if left:
            say(f"# WARNING: not removed: {left}")


def summary(results, scenarios, rates):
    say("## summary (medians over runs)")
    say("| Mbit/s | scenario | optimum s | ours s | ours / optimum | aria2 s | aria2 / optimum | aria2 / ours | "
        "ours sharer upload per file (counter / link) | aria2 sharer upload per file (link) |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def med(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if xs else float("nan")

    for mbit in rates:
        for kind in scenarios:
            o = [r for r in results if r["system"] == "ours" and r["kind"] == kind and r["mbit"] == mbit]
            a = [r for r in results if r["system"] == "aria2" and r["kind"] == kind and r["mbit"] == mbit]
            if not o:
                continue
            opt = o[0]["optimum"]
            ot, at = med([r["last"] for r in o]), med([r["last"] for r in a])
            say(f"| {mbit} | {kind} | {opt:.2f} | {ot:.2f} | {ot / opt:.2f} | {at:.2f} | {at / opt:.2f} | {at / ot:.2f} | "
                f"{med([r['served_per_file'] for r in o]):.3f} / {med([r['tx_per_file'] for r in o]):.3f} | "
                f"{med([r['tx_per_file'] for r in a]):.3f} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mbit", default="1000,100")
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--scenarios", default="together,staggered,three")
    ap.add_argument("--no-aria2", action="store_true")
    ap.add_argument("--bin")
    ap.add_argument("--work")
    ap.add_argument("--logs", help="copy every process's log here before the tmpfs goes")
    args = ap.parse_args()
    args.scenarios = [s for s in args.scenarios.replace(",", " ").split() if s]
    unknown = [s for s in args.scenarios if s not in ("together", "staggered", "three")]
    if unknown:
        ap.error(f"unknown scenarios {unknown}")
    rates = [int(x) for x in args.mbit.split(",")]
    if os.geteuid() != 0:
        say("swarm_bench: must run as root (it makes network namespaces)")
        return 2
    tools = dict(TOOLS)
    if args.no_aria2:
        for t in ("aria2c", "mktorrent", "opentracker"):
            tools.pop(t)
    missing = require_tools(tools)
    if missing:
        say(f"swarm_bench: missing {', '.join(missing)}; install with: apt-get install {' '.join(sorted({TOOLS[t] for t in missing}))}")
        return 2
    # A signal ends the run through the finally blocks, which remove everything made.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda s, f: sys.exit(128 + s))
    repo = os.path.dirname(HERE)
    say(f"# {platform.node()} nproc={os.cpu_count()} kernel={platform.release()} load average {loadavg()}")
    bindir = args.bin or build(repo)
    work = args.work or tempfile.mkdtemp(prefix="swarm-bench-")
    os.makedirs(work, exist_ok=True)
    size = args.mib << 20
    mounted = False
    results = []
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size * 14 + (1 << 30)}", "tmpfs", work], check=True)
        mounted = True
        source = os.path.join(work, "swarm.bin")
        make_file(source, size)
        sha1 = sha1_of(source)
        say(f"# file {args.mib} MiB, sha1 {sha1}; rates {rates} Mbit/s; scenarios {args.scenarios}; runs {args.runs}")
        for mbit in rates:
            run_rate(args, mbit, source, sha1, work, bindir, results)
        summary(results, args.scenarios, rates)
        return 0
    except (ChildDied, RuntimeError, subprocess.CalledProcessError, OSError) as e:
        say(f"swarm_bench failed: {e}")
        if results:
            summary(results, args.scenarios, rates)
        return 1
    finally:
        if mounted and args.logs:
            os.makedirs(args.logs, exist_ok=True)
            for root, _, files in os.walk(work):
                for name in files:
                    if name.endswith(".log"):
                        rel = os.path.relpath(os.path.join(root, name), work)
                        os.makedirs(os.path.dirname(os.path.join(args.logs, rel)), exist_ok=True)
                        shutil.copyfile(os.path.join(root, name), os.path.join(args.logs, rel))
        if mounted:
            subprocess.run(["umount", "-l", work], capture_output=True)
        if not args.work:
            subprocess.run(["rm", "-rf", work])


if __name__ == "__main__":
    sys.exit(main())

"""aria2c BitTorrent on the same topology, as ../shared/anchors/bt_netns.py runs it: opentracker on
host t1 (whitelist in its chroot), a private torrent of 512 KiB pieces (mktorrent -l 19 -p),
seeders that check their copy first, leechers with DHT, LPD and PEX off. Time to a leecher's
completion = its --on-bt-download-complete hook (every piece SHA-1-checked as it landed). The
sharers' upload is the byte counter of their links (headers included)."""
import os
import shutil
import subprocess
import time

from .ours import sha1_of
from .procs import ChildDied, wait_until

SCRAPE = """
import re, sys, urllib.parse, urllib.request
url = f"http://{sys.argv[1]}:6969/scrape?info_hash=" + urllib.parse.quote_from_bytes(bytes.fromhex(sys.argv[2]))
try:
    m = re.search(rb"completei(\\d+)e", urllib.request.urlopen(url, timeout=2).read())
    print(int(m.group(1)) if m else 0)
except Exception:
    print(0)
"""


class Aria:
    def __init__(self, topo, procs, work, source, sha1):
        self.topo, self.procs, self.work = topo, procs, work
        self.source, self.sha1, self.name = source, sha1, os.path.basename(source)
        self.size = os.path.getsize(source)
        self.seeders = {}

    def start(self):
        os.makedirs(self.work, exist_ok=True)
        self.torrent = os.path.join(self.work, "swarm.torrent")
        tracker = self.topo.ip("t1")
        subprocess.run(["mktorrent", "-l", "19", "-p", "-a", f"http://{tracker}:6969/announce", "-o", self.torrent, self.source],
                       check=True, capture_output=True)
        info = subprocess.run(["aria2c", "-S", self.torrent], check=True, capture_output=True, text=True).stdout
        self.infohash = [l.split()[-1] for l in info.splitlines() if "Info Hash" in l][0]
        with open(os.path.join(self.work, "whitelist.txt"), "w") as f:
            f.write(self.infohash + "\n")
        os.chmod(self.work, 0o755)
        os.chmod(os.path.join(self.work, "whitelist.txt"), 0o644)
        self.hook = os.path.join(self.work, "done_hook.sh")
        with open(self.hook, "w") as f:
            f.write('#!/bin/sh\ndate +%s.%N > "$3.done"\n')
        os.chmod(self.hook, 0o755)
        self.procs.start(self.topo.ns("t1"), ["opentracker", "-i", tracker, "-p", "6969", "-P", "6969", "-d", self.work,
                                              "-w", "/whitelist.txt"], f"{self.work}/opentracker.log")
        time.sleep(0.5)
        self.seed("s1")

    def aria(self, name, directory, extra):
        ip = self.topo.ip(name)
        argv = ["aria2c", "--no-conf=true", "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--enable-peer-exchange=false", f"--bt-external-ip={ip}", f"--interface={ip}", "--disable-ipv6=true",
                "--async-dns=false", "--file-allocation=falloc", "--summary-interval=0", "--console-log-level=error",
                "--bt-save-metadata=false", "--allow-overwrite=true", "--auto-save-interval=0", "--stop=900",
                f"--stop-with-process={os.getpid()}", f"--dir={directory}", "--listen-port=6881", "--seed-ratio=0.0",
                ] + extra + [self.torrent]
        return self.procs.start(self.topo.ns(name), argv, f"{self.work}/aria2-{name}.log")

    def complete_count(self):
        out = subprocess.run(["ip", "netns", "exec", self.topo.ns("t1"), "python3", "-c", SCRAPE, self.topo.ip("t1"), self.infohash],
                             capture_output=True, text=True).stdout.strip()
        return int(out or 0)

    def seed(self, name):
        d = os.path.join(self.work, f"seed-{name}")
        os.makedirs(d, exist_ok=True)
        shutil.copyfile(self.source, os.path.join(d, self.name))
        self.seeders[name] = self.aria(name, d, ["--check-integrity=true", "--seed-time=600"])
        # The tracker may still count a seeder stopped in an earlier run (until its entry times
        # out), so the count is a lower bound; a pause covers the check and the announce.
        want = len(self.seeders)
        if not wait_until(lambda: self.complete_count() >= want, 60, step=0.2):
            raise RuntimeError(f"aria2 seeder {name} did not register with opentracker within 60 s")
        time.sleep(2.0)

    def scenario(self, kind, run):
        sharers = ["s1", "s2", "s3"] if kind == "three" else ["s1"]
        leechers = ["d1"] if kind == "three" else ["d1", "d2", "d3", "d4"]
        for name in sharers[1:]:
            self.seed(name)
        tx0 = {n: self.topo.tx_bytes(n) for n in sharers}
        dirs = {n: os.path.join(self.work, f"dl-{n}-{kind}-{run}") for n in leechers}
        for d in dirs.values():
            os.makedirs(d)
        offsets = {name: (2.0 * k if kind == "staggered" else 0.0) for k, name in enumerate(leechers)}
        procs, done = {}, {}
        t0 = time.time()
        while len(done) < len(leechers):
            now = time.time() - t0
            for name in leechers:
                if name not in procs and now >= offsets[name]:
                    procs[name] = self.aria(name, dirs[name], ["--seed-time=60", f"--on-bt-download-complete={self.hook}"])
            for name, p in procs.items():
                marker = os.path.join(dirs[name], self.name + ".done")
                if name not in done and os.path.exists(marker) and os.path.getsize(marker) > 0:
                    done[name] = float(open(marker).read()) - t0
                elif name not in done and p.poll() is not None:
                    raise ChildDied(f"aria2c on {name} exited with status {p.returncode} before completing")
            if now > 900:
                raise RuntimeError(f"aria2 downloads not complete after 900 s: {sorted(done)}")
            time.sleep(0.02)
        tx = sum(self.topo.tx_bytes(n) - tx0[n] for n in sharers)
        for p in procs.values():
            self.procs.stop(p)
        ok = all(sha1_of(os.path.join(dirs[n], self.name)) == self.sha1 for n in leechers)
        for d in dirs.values():
            shutil.rmtree(d)
        for name in sharers[1:]:
            self.procs.stop(self.seeders.pop(name))
        return {"times": [round(done[n], 3) for n in leechers], "last": max(done.values()), "ok": ok,
                "tx_per_file": tx / self.size}

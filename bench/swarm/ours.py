"""Our system on the topology: three tracker-node hosts, client processes on the sharer and
downloader hosts. Time to a downloader's completion = the moment its download_file was answered
plus the elapsed_ms show_downloads reports for it (every piece SHA-1-checked, the whole file's
SHA-1 checked, renamed into place); the benchmark then checks each copy's SHA-1 itself."""
import hashlib
import os
import shutil
import subprocess
import time

from .procs import Client, ChildDied, wait_until

PORT = 9000
GROUP = "bench"


def sha1_of(path):
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(8 << 20):
            h.update(chunk)
    return h.hexdigest()


class Ours:
    def __init__(self, topo, procs, bindir, work, source, sha1):
        self.topo, self.procs, self.bindir, self.work = topo, procs, bindir, work
        self.source, self.sha1, self.name = source, sha1, os.path.basename(source)
        self.size = os.path.getsize(source)
        self.clients = {}

    def start(self):
        os.makedirs(self.work, exist_ok=True)
        conf = os.path.join(self.work, "cluster.conf")
        lines = [f"{i} {self.topo.ip(f't{i}')}:7001" for i in (1, 2, 3)]
        with open(conf, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        # Pin each tracker's certificate (TLS between trackers, clients and peers): the key
        # pair is made in its data directory before the first start, as scripts/local-cluster.sh does.
        pins = [subprocess.run([f"{self.bindir}/tracker-node", "--conf", conf, "--id", str(i), "--data-dir",
                                f"{self.work}/tracker-{i}", "--print-fingerprint"],
                               check=True, capture_output=True, text=True).stdout.strip() for i in (1, 2, 3)]
        with open(conf, "w") as f:
            f.write("".join(f"{line} {pin}\n" for line, pin in zip(lines, pins)))
        key = os.path.join(self.work, "cluster.key")
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.write(fd, (os.urandom(32).hex() + "\n").encode())
        os.close(fd)
        for i in (1, 2, 3):
            self.procs.start(self.topo.ns(f"t{i}"), [f"{self.bindir}/tracker-node", "--conf", conf, "--id", str(i),
                             "--data-dir", f"{self.work}/tracker-{i}"], f"{self.work}/tracker-{i}.log")
        for name in ("s1", "s2", "s3", "d1", "d2", "d3", "d4"):
            argv = [f"{self.bindir}/client", f"{self.topo.ip(name)}:{PORT}", conf, "--json", "--state-dir", f"{self.work}/state-{name}"]
            self.clients[name] = Client(self.procs, self.topo.ns(name), name, argv, f"{self.work}/client-{name}.log")
        # The cluster elects a leader first: retry the first command for a while.
        first = self.clients["s1"]
        if not wait_until(lambda: first.run("create_user s1 pw").get("ok") is True, 30, step=0.2):
            raise RuntimeError("the tracker cluster did not accept create_user within 30 s")
        first.must("login s1 pw")
        first.must(f"create_group {GROUP}")
        for name, c in self.clients.items():
            if name == "s1":
                continue
            c.must(f"create_user {name} pw")
            c.must(f"login {name} pw")
            c.must(f"join_group {GROUP}")
            first.must(f"accept_request {GROUP} {name}")
        for name in ("s1", "s2", "s3"):
            d = os.path.join(self.work, "files", name)
            os.makedirs(d, exist_ok=True)
            shutil.copyfile(self.source, os.path.join(d, self.name))
        up = first.must(f"upload_file {self.work}/files/s1/{self.name} {GROUP}")
        if up.get("sha1") != self.sha1:
            raise RuntimeError(f"upload_file reported sha1 {up.get('sha1')}, expected {self.sha1}")

    def served(self, name):
        answer = self.clients[name].must("show_downloads")
        return sum(e["bytes"] for e in answer.get("served", []) if e["file"] == self.name)

    def scenario(self, kind, run):
        """kind: together | staggered | three. Returns the measured figures."""
        sharers = ["s1", "s2", "s3"] if kind == "three" else ["s1"]
        downloaders = ["d1"] if kind == "three" else ["d1", "d2", "d3", "d4"]
        for name in sharers[1:]:
            self.clients[name].must(f"upload_file {self.work}/files/{name}/{self.name} {GROUP}")
        served0 = {n: self.served(n) for n in sharers}
        tx0 = {n: self.topo.tx_bytes(n) for n in sharers}
        dirs = {}
        for name in downloaders:
            dirs[name] = os.path.join(self.work, "dl", f"{name}-{kind}-{run}")
            os.makedirs(dirs[name])
        offsets = {name: (2.0 * k if kind == "staggered" else 0.0) for k, name in enumerate(downloaders)}
        t0 = time.time()
        started, done = {}, {}
        while len(done) < len(downloaders):
            now = time.time() - t0
            for name in downloaders:
                if name not in started and now >= offsets[name]:
                    self.clients[name].must(f"download_file {GROUP} {self.name} {dirs[name]}")
                    started[name] = time.time() - t0
            for name in started:
                if name in done:
                    continue
                entries = self.clients[name].must("show_downloads").get("downloads", [])
                state = entries[-1].get("state") if entries else None
                if state == "complete":
                    done[name] = started[name] + entries[-1]["elapsed_ms"] / 1000
                elif state == "failed":
                    raise RuntimeError(f"{name}: download failed: {entries[-1].get('reason')}")
            if now > 900:
                raise RuntimeError(f"downloads not complete after 900 s: {sorted(done)}")
            time.sleep(0.02)
        served = sum(self.served(n) - served0[n] for n in sharers)
        tx = sum(self.topo.tx_bytes(n) - tx0[n] for n in sharers)
        ok = all(sha1_of(os.path.join(dirs[n], self.name)) == self.sha1 for n in downloaders)
        for name in downloaders:
            self.clients[name].must(f"stop_share {GROUP} {self.name}")
            shutil.rmtree(dirs[name])
        for name in sharers[1:]:
            self.clients[name].must(f"stop_share {GROUP} {self.name}")
        cpu = self.cpu_seconds()
        return {"times": [round(done[n], 3) for n in downloaders], "last": max(done.values()), "ok": ok,
                "served_per_file": served / self.size, "tx_per_file": tx / self.size, "cpu": cpu}

    def cpu_seconds(self):
        """(user, system) CPU seconds each of our processes used so far."""
        out = {}
        tick = os.sysconf("SC_CLK_TCK")
        for p in self.procs.all:
            try:
                fields = open(f"/proc/{p.pid}/stat").read().rsplit(")", 1)[1].split()
                out[p.pid] = (int(fields[11]) / tick, int(fields[12]) / tick)
            except (OSError, IndexError, ValueError):
                pass
        return out

    def check_alive(self):
        for name, c in self.clients.items():
            if c.p.poll() is not None:
                raise ChildDied(f"client {name} exited with status {c.p.returncode}")

"""Processes this benchmark starts: tracked by pid, stopped by pid, never by name. A child that
dies is reported as a `ChildDied` error (the benchmark then stops and exits non-zero), never a
crash of the benchmark itself."""
import json
import os
import queue
import signal
import subprocess
import threading
import time


class ChildDied(RuntimeError):
    pass


class Procs:
    """Every process started, so all can be stopped (by pid) whatever happens."""

    def __init__(self):
        self.all = []

    def start(self, ns, argv, log_path, stdin=subprocess.DEVNULL, stdout=None):
        log = open(log_path, "ab")
        p = subprocess.Popen(["ip", "netns", "exec", ns] + argv, stdin=stdin, stdout=stdout or log, stderr=log,
                             start_new_session=True)
        self.all.append(p)
        return p

    def stop(self, p, grace=3.0):
        """SIGTERM, then SIGKILL after `grace` seconds; by pid (`ip netns exec` execs the program)."""
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGTERM)
                p.wait(timeout=grace)
            except (subprocess.TimeoutExpired, ProcessLookupError):
                pass
        if p.poll() is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait()
        for stream in (p.stdin, p.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass

    def stop_all(self):
        for p in reversed(self.all):
            self.stop(p, grace=1.0)
        self.all = []


class Client:
    """Our `client --json` in a namespace: one command a line in, one JSON object a line out."""

    def __init__(self, procs, ns, name, argv, log_path):
        self.name = name
        self.p = procs.start(ns, argv, log_path, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.decode(errors="replace"))
        self.lines.put(None)

    def run(self, command, timeout=120.0):
        if self.p.poll() is not None:
            raise ChildDied(f"client {self.name} exited with status {self.p.returncode}")
        try:
            self.p.stdin.write((command + "\n").encode())
            self.p.stdin.flush()
        except (BrokenPipeError, OSError) as e:
            raise ChildDied(f"client {self.name} is gone ({e})")
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise ChildDied(f"client {self.name} did not answer '{command.split()[0]}' within {timeout:.0f} s")
        if line is None:
            raise ChildDied(f"client {self.name} exited (status {self.p.wait()}) during '{command.split()[0]}'")
        try:
            return json.loads(line)
        except json.JSONDecodeError:
            return {"ok": False, "error": f"unparsed: {line.strip()}"}

    def must(self, command):
        answer = self.run(command)
        if answer.get("ok") is not True:
            raise RuntimeError(f"{self.name}: {command.split()[0]}: {answer.get('error', answer)}")
        return answer


def wait_until(condition, timeout, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()

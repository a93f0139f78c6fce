"""Hosts as network namespaces on one bridge, each link shaped with tc tbf both ways.

Everything made here is named with PREFIX (namespaces swn0.., veths vswn0.., bridge br-swn), so
cleanup removes exactly what this benchmark made and nothing of anyone else's. Addresses live
only inside the namespaces (10.81.0.0/24); the bridge has none.
"""
import os
import shutil
import subprocess

PREFIX = "swn"
BRIDGE = "br-swn"
NET = "10.81.0"


def sh(cmd, check=True):
    r = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{cmd}: {r.stderr.strip()}")
    return r.stdout


class Topology:
    """Hosts by name: t1-t3 (trackers), s1-s3 (sharers), d1-d4 (downloaders)."""

    NAMES = ["t1", "t2", "t3", "s1", "s2", "s3", "d1", "d2", "d3", "d4"]

    def __init__(self, mbit):
        self.mbit = mbit
        self.index = {name: k for k, name in enumerate(self.NAMES)}

    def ns(self, name):
        return f"{PREFIX}{self.index[name]}"

    def ip(self, name):
        return f"{NET}.{self.index[name] + 1}"

    def up(self):
        self.down()
        sh(f"ip link add {BRIDGE} type bridge && ip link set {BRIDGE} up")
        for k in range(len(self.NAMES)):
            ns, veth = f"{PREFIX}{k}", f"v{PREFIX}{k}"
            sh(f"ip netns add {ns}")
            sh(f"ip link add {veth} type veth peer name eth0 netns {ns}")
            sh(f"ip link set {veth} master {BRIDGE} up")
            sh(f"ip -n {ns} addr add {NET}.{k + 1}/24 dev eth0 && ip -n {ns} link set eth0 up && ip -n {ns} link set lo up")
            self.shape(k)

    def shape(self, k):
        """tbf on the host's side (its upload) and on the bridge's side (its download)."""
        rate = f"tbf rate {self.mbit}mbit burst 256kb latency 50ms"
        sh(f"ip netns exec {PREFIX}{k} tc qdisc replace dev eth0 root {rate}")
        sh(f"tc qdisc replace dev v{PREFIX}{k} root {rate}")

    def tx_bytes(self, name):
        """Bytes the host sent on its link (IP and TCP headers included)."""
        out = sh(f"ip netns exec {self.ns(name)} cat /sys/class/net/eth0/statistics/tx_bytes")
        return int(out.strip())

    def down(self):
        for k in range(len(self.NAMES)):
            sh(f"ip netns del {PREFIX}{k}", check=False)
            sh(f"ip link del v{PREFIX}{k}", check=False)
        sh(f"ip link del {BRIDGE}", check=False)

    def leftovers(self):
        """Names of ours still present after `down` (should be none)."""
        names = sh("ip netns list", check=False).split()
        links = sh("ip -o link show", check=False)
        return [n for n in names if n.startswith(PREFIX)] + ([BRIDGE] if f" {BRIDGE}:" in links else [])


def require_tools(tools):
    """Installs missing Debian packages; returns the tools still missing (empty when all there).
    tools: {executable: package}."""
    missing = {t: p for t, p in tools.items() if not shutil.which(t)}
    if missing:
        pkgs = " ".join(sorted(set(missing.values())))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (f"apt-get install -y -qq {pkgs}", f"apt-get update -qq && apt-get install -y -qq {pkgs}"):
            subprocess.run(cmd, shell=True, capture_output=True, env=env)
            if all(shutil.which(t) for t in missing):
                break
    return sorted(t for t in tools if not shutil.which(t))

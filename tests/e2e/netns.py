"""Machines on a LAN, made of Linux network namespaces: one namespace per host with its
own IP on eth0, all eth0s bridged in a further "switch" namespace (veth pairs into a
bridge). Nothing is created in the root namespace, so the host's own network is never
touched, and deleting the namespaces removes every link and the bridge with them. Names
carry a random token: concurrent runs never collide. Each host namespace has its own
loopback (needed: a host reaching its own IP goes through `lo`), so an address that
assumes 127.0.0.1 reaches nothing outside its own host.
"""
from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path


class NamespacesUnavailable(RuntimeError):
    """`ip netns add` is not permitted here (no root, no CAP_SYS_ADMIN, no iproute2)."""


def _ip(*args: str) -> None:
    r = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {r.stderr.strip()}")


class Lan:
    def __init__(self, n_hosts: int, subnet: str = "10.77.0"):
        self.token = f"ac{secrets.token_hex(3)}"
        self.switch = f"{self.token}-sw"
        self.hosts = [f"{self.token}-h{i}" for i in range(n_hosts)]
        self.ips = [f"{subnet}.{i + 1}" for i in range(n_hosts)]
        self.created: list[str] = []

    def up(self) -> None:
        try:
            r = subprocess.run(["ip", "netns", "add", self.switch], capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            raise NamespacesUnavailable("the `ip` command (iproute2) is not installed") from None
        if r.returncode != 0:
            raise NamespacesUnavailable(f"`ip netns add` failed: {r.stderr.strip()}")
        self.created.append(self.switch)
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")
        for i, (ns, ip) in enumerate(zip(self.hosts, self.ips)):
            _ip("netns", "add", ns)
            self.created.append(ns)
            _ip("link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name", f"p{i}", "netns", self.switch)
            _ip("-n", self.switch, "link", "set", f"p{i}", "master", "br0")
            _ip("-n", self.switch, "link", "set", f"p{i}", "up")
            _ip("-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            _ip("-n", ns, "link", "set", "eth0", "up")
            _ip("-n", ns, "link", "set", "lo", "up")

    def down(self) -> list[str]:
        """Delete every namespace made (links and the bridge go with them); returns failures."""
        failed = []
        for ns in reversed(self.created):
            r = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                failed.append(f"{ns}: {r.stderr.strip()}")
        self.created.clear()
        return failed

    def cmd(self, host: int, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.hosts[host], *argv]

    def run(self, host: int, argv: list[str], timeout: float = 90) -> subprocess.CompletedProcess:
        return subprocess.run(self.cmd(host, argv), capture_output=True, text=True, timeout=timeout)

    def spawn(self, host: int, argv: list[str], log: Path) -> subprocess.Popen:
        with open(log, "ab") as f:
            return subprocess.Popen(self.cmd(host, argv), stdout=f, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL)


def python(*args: str) -> list[str]:
    return [sys.executable, *args]

"""Counters of a process tree and of the machine, read from Linux's /proc (no psutil: the SDK
depends on grpcio and protobuf only).

The tree is the root process and all its descendants (by parent pid), plus, when `group` is given,
every process of that process group (the runner's script group: a worker that double-forked away
from its parent still counts); each pid is counted once. Read per sample:
- /proc/PID/stat of every process (to find the tree): CPU time and RSS. CPU time includes the
  children each process has reaped (cutime, cstime), so a DataLoader worker that ends between two
  samples moves its time to its parent instead of vanishing;
- /proc/PID/io of the tree: bytes the tree read from and wrote to storage (read_bytes,
  write_bytes; page-cache hits are not disk I/O) - the run's own disk traffic, not the machine's,
  which on a shared machine would mostly be the neighbours'. Reaped children's bytes move to the
  parent, as CPU time does;
- /proc/meminfo (machine memory) and /proc/net/dev (every interface but lo; Linux keeps no
  per-process network counters, so network is the machine's, in this network namespace).

Files are read in binary and parsed as bytes: the sampler thread must never import (see
`_recorder`'s fork notes), and decoding text could load a codec module.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def available() -> bool:
    """True on Linux with a readable /proc (the only platform tailrun samples)."""
    return sys.platform.startswith("linux") and os.path.exists("/proc/self/stat")


@dataclass
class Counters:
    """One reading. Byte and CPU counters are cumulative (rates come from two readings); a field
    is None when its file could not be read."""
    time: float                 # time.monotonic()
    pids: int                   # processes in the tree
    cpu_seconds: float          # user + system, including reaped children
    rss_bytes: int
    read_bytes: int | None
    write_bytes: int | None
    net_recv_bytes: int | None
    net_sent_bytes: int | None
    mem_total_bytes: int | None
    mem_available_bytes: int | None


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _stats() -> dict[int, list[bytes]]:
    """pid -> the fields of /proc/PID/stat after the command name, for every process."""
    out: dict[int, list[bytes]] = {}
    try:
        names = os.listdir(b"/proc")
    except OSError:
        return out
    for name in names:
        if not name.isdigit():
            continue
        raw = _read(b"/proc/%s/stat" % name)
        if raw:
            # The command name may hold spaces and parentheses: the fields start after the last ")".
            out[int(name)] = raw[raw.rfind(b")") + 2:].split()
    return out


def tree_of(stats: dict[int, list[bytes]], root: int, group: int | None = None) -> list[int]:
    """The root, its descendants and (with `group`) the members of that process group, once each."""
    children: dict[int, list[int]] = {}
    members = []
    for pid, fields in stats.items():
        ppid = int(fields[1])
        children.setdefault(ppid, []).append(pid)
        if group is not None and int(fields[2]) == group:
            members.append(pid)
    seen = {root} if root in stats else set()
    frontier = list(seen) + members
    seen.update(members)
    while frontier:
        nxt = []
        for pid in frontier:
            for child in children.get(pid, ()):
                if child not in seen:
                    seen.add(child)
                    nxt.append(child)
        frontier = nxt
    return sorted(seen)


def _meminfo() -> tuple[int | None, int | None]:
    raw = _read("/proc/meminfo")
    total = available = None
    for line in (raw or b"").splitlines():
        if line.startswith(b"MemTotal:"):
            total = int(line.split()[1]) * 1024
        elif line.startswith(b"MemAvailable:"):
            available = int(line.split()[1]) * 1024
    return total, available


def _net() -> tuple[int | None, int | None]:
    raw = _read("/proc/net/dev")
    if raw is None:
        return None, None
    recv = sent = 0
    for line in raw.splitlines()[2:]:
        name, _, rest = line.partition(b":")
        if name.strip() == b"lo" or not rest:
            continue
        fields = rest.split()
        recv += int(fields[0])
        sent += int(fields[8])
    return recv, sent


def _io(pids: list[int]) -> tuple[int | None, int | None]:
    read = write = 0
    seen = False
    for pid in pids:
        raw = _read(f"/proc/{pid}/io")
        if not raw:   # gone, or not ours to read
            continue
        for line in raw.splitlines():
            if line.startswith(b"read_bytes:"):
                read += int(line[11:])
                seen = True
            elif line.startswith(b"write_bytes:"):
                write += int(line[12:])
    return (read, write) if seen else (None, None)


def read(root: int, group: int | None = None) -> Counters:
    """One reading of the tree of `root` (see the module docstring) and of the machine."""
    now = time.monotonic()
    stats = _stats()
    pids = tree_of(stats, root, group)
    ticks = rss_pages = 0
    for pid in pids:
        f = stats[pid]
        # After the name: state(0) ppid(1) ... utime(11) stime(12) cutime(13) cstime(14) ... rss(21)
        ticks += int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
        rss_pages += int(f[21])
    read_bytes, write_bytes = _io(pids)
    recv, sent = _net()
    total, avail = _meminfo()
    return Counters(time=now, pids=len(pids), cpu_seconds=ticks / CLOCK_TICKS, rss_bytes=rss_pages * PAGE_BYTES,
                    read_bytes=read_bytes, write_bytes=write_bytes, net_recv_bytes=recv, net_sent_bytes=sent,
                    mem_total_bytes=total, mem_available_bytes=avail)

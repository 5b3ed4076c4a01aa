"""CPU accounting: the servers, this client (orchestrator + subscriber processes), the whole machine."""

from __future__ import annotations

import time
from collections import Counter

import psutil

from bench.realtime.subscribers import WorkerHandle
from bench.server import GatewayProcess, tree_cpu_s


class CpuMeter:
    def __init__(self, servers: list[GatewayProcess], workers: list[WorkerHandle]) -> None:
        self.servers = servers
        self.workers = workers
        self.me = psutil.Process()

    def _now(self) -> tuple[float, float, float, float]:
        server = sum(tree_cpu_s(s.pid) for s in self.servers)
        mine = self.me.cpu_times()
        client = mine.user + mine.system + sum(w.cpu_s() for w in self.workers)
        machine = psutil.cpu_times()
        busy = sum(machine) - machine.idle - getattr(machine, "iowait", 0.0)
        return time.monotonic(), server, client, busy

    @staticmethod
    def _by_process() -> dict[int, tuple[str, float]]:
        found = {}
        for process in psutil.process_iter(["name", "cpu_times"]):
            times = process.info["cpu_times"]
            if times is not None:
                found[process.pid] = (process.info["name"] or "?", times.user + times.system)
        return found

    def start(self) -> None:
        self._start = self._now()
        self._processes = self._by_process()

    def stop(self) -> dict[str, float]:
        end = self._now()
        wall = end[0] - self._start[0]
        figures = {
            "wall_s": wall,
            "server_cpu_s": end[1] - self._start[1],
            "client_cpu_s": end[2] - self._start[2],
            "machine_busy_s": end[3] - self._start[3],
        }
        # Who "everything else" is: CPU by process name, ours left out (servers, their children, client).
        ours = {self.me.pid, *(w.process.pid for w in self.workers)}
        for server in self.servers:
            try:
                root = psutil.Process(server.pid)
                ours |= {root.pid, *(child.pid for child in root.children(recursive=True))}
            except psutil.NoSuchProcess:
                pass
        names: Counter[str] = Counter()
        for pid, (name, cpu) in self._by_process().items():
            if pid not in ours:
                names[name] += cpu - self._processes.get(pid, (name, 0.0))[1]
        for name, cpu in names.most_common(3):
            if cpu > 0.05 * wall:
                figures[f"other:{name}"] = cpu
        return figures

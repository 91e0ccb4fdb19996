#!/usr/bin/env python3
"""End-to-end benchmark of titand on loopback.

Builds titand, titan-target and bare_curl_bench in a build directory with cmake and ninja.
Starts titan-target on four free 127.0.0.1 ports, which are four origins and so four hosts
for titand's per-host limits. Then runs up to three scenarios, each with its own titand on
a fresh temporary state directory:

  fast    N items (200,000 by default) of the echo route over 4 hosts with synced commits.
          The same URLs first go through bare_curl_bench (libcurl multi, the same
          concurrency) and then through titand. Prints items/s of both and their ratio,
          titand's p50/p99 from due to done and from first attempt to done (read from the
          exported results), and titand's peak RSS (VmHWM).
  delay   5,000 items per host of /delay/50: items/s against the concurrency bound
          min(max_in_flight, max_connections * hosts) / 0.05 s.
  queued  1,000,000 items against hosts limited to 0.01 requests per second, so nearly
          all stay queued: VmRSS and VmHWM once the file is committed.

Each task line is one task and one execution; each URL in it is one work item. Rates are
items per second unless the name says executions.

Every wait is bounded and fails with a message; only 127.0.0.1 is contacted. Standard
library only.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import http.client
import io
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TARGETS = ["titand", "titan-target", "bare_curl_bench"]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class BenchError(Exception):
    """A step of the benchmark failed; the message names the step and the reason."""


# ---------------------------------------------------------------------------------------
# Small helpers: ports, waiting, HTTP on loopback, /proc readings.


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.1):
    """Calls predicate until it returns a true value; raises BenchError after timeout_s."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(interval_s)


def http_get(port: int, path: str, timeout_s: float = 10.0) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def try_http_get(port: int, path: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    try:
        return http_get(port, path, timeout_s)
    except (OSError, http.client.HTTPException):
        return 0, b""


def proc_status(pid: int) -> dict[str, int]:
    """Returns the kB fields of /proc/PID/status (VmRSS, VmHWM, ...) as integers."""
    values = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                values[name] = int(parts[0])
    return values


def cpu_seconds(pid: int) -> float:
    """Returns user plus system CPU time of a live process."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def load_average() -> str:
    with open("/proc/loadavg") as loadavg:
        return " ".join(loadavg.read().split()[:3])


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = round(fraction * (len(sorted_values) - 1))
    return sorted_values[rank]


_day_starts: dict[str, float] = {}


def parse_timestamp(text: str) -> float:
    """Parses titand's "YYYY-MM-DDTHH:MM:SS.mmmZ" into Unix seconds; fast for many rows."""
    day, _, clock = text.partition("T")
    start = _day_starts.get(day)
    if start is None:
        start = datetime.datetime.strptime(day, "%Y-%m-%d").replace(
            tzinfo=datetime.timezone.utc).timestamp()
        _day_starts[day] = start
    return start + int(clock[0:2]) * 3600 + int(clock[3:5]) * 60 + float(clock[6:-1])


# ---------------------------------------------------------------------------------------
# Prometheus text from titand's /metrics.


def parse_metrics(text: str) -> dict[str, float]:
    """Maps each series ("name{labels}") to its value."""
    series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            series[name] = float(value)
        except ValueError:
            continue
    return series


def histogram_quantile(metrics: dict[str, float], name: str, fraction: float) -> float:
    """Returns the upper bound of the bucket that contains the given quantile."""
    buckets = []
    for series, value in metrics.items():
        match = re.fullmatch(re.escape(name) + r'_bucket\{le="([^"]+)"\}', series)
        if match:
            buckets.append((float(match.group(1)), value))
    buckets.sort()
    if not buckets or buckets[-1][1] == 0:
        return float("nan")
    wanted = fraction * buckets[-1][1]
    for bound, count in buckets:
        if count >= wanted:
            return bound
    return float("inf")


def item_states(metrics: dict[str, float]) -> dict[str, int]:
    states = {}
    for series, value in metrics.items():
        match = re.fullmatch(r'titand_items\{state="([a-z_]+)"\}', series)
        if match:
            states[match.group(1)] = int(value)
    return states


# ---------------------------------------------------------------------------------------
# Processes: titan-target and titand.


class Target:
    """titan-target on `count` free loopback ports, one origin per port."""

    def __init__(self, binary: Path, count: int, log_dir: Path):
        args = [str(binary)] + ["--listen", "127.0.0.1:0"] * count
        self.stderr = open(log_dir / "titan-target.stderr", "w")
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.stderr)
        self.ports: list[int] = []
        # Raw reads: a buffered readline could hold later lines where select() cannot see them.
        output = b""
        deadline = time.monotonic() + 15
        while len(self.ports) < count:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([self.process.stdout], [], [], max(remaining, 0))
            if not ready:
                self.stop()
                raise BenchError("titan-target did not report its ports within 15 s")
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                self.stop()
                raise BenchError(f"titan-target exited during start (exit code "
                                 f"{self.process.wait(5)}); see {self.stderr.name}")
            output += chunk
            self.ports = [int(port) for port in
                          re.findall(rb"listening on http://127\.0\.0\.1:(\d+)\n", output)]

    def origins(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.ports]

    def total_requests(self) -> int:
        status, body = http_get(self.ports[0], "/__stats")
        if status != 200:
            raise BenchError(f"titan-target /__stats returned HTTP {status}")
        return int(json.loads(body)["total"])

    def stop(self) -> str:
        """Stops the target and returns its final statistics line."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            out, _ = self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, _ = self.process.communicate()
        self.stderr.close()
        return (out or b"").decode(errors="replace").strip()


@dataclass
class TitandConfig:
    max_in_flight: int
    max_connections: int
    requests_per_second: float
    burst: int = 1000
    claim_batch: int = 256
    durability: str = "sync"


class Titand:
    """One titand process on a fresh state directory under `work_dir`."""

    def __init__(self, binary: Path, work_dir: Path, config: TitandConfig):
        self.work_dir = work_dir
        work_dir.mkdir(parents=True)
        self.spool = work_dir / "spool"
        self.api_port = free_port()
        self.metrics_port = free_port()
        config_path = work_dir / "titand.toml"
        config_path.write_text(
            f'state_dir = "{work_dir / "state"}"\n'
            f"[spool]\n"
            f'dir = "{self.spool}"\n'
            f"rescan_interval_ms = 200\n"
            f"[api]\n"
            f'listen = "127.0.0.1:{self.api_port}"\n'
            f"[metrics]\n"
            f'listen = "127.0.0.1:{self.metrics_port}"\n'
            f"[store]\n"
            f'durability = "{config.durability}"\n'
            f"[engine]\n"
            f"max_in_flight = {config.max_in_flight}\n"
            f"claim_batch = {config.claim_batch}\n"
            f"[hosts.default]\n"
            f"requests_per_second = {config.requests_per_second}\n"
            f"burst = {config.burst}\n"
            f"max_connections = {config.max_connections}\n")
        self.log_path = work_dir / "titand.log"
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [str(binary), "--config", str(config_path), "--log-level", "info"],
            stdout=self.log, stderr=subprocess.STDOUT)
        self.pid = self.process.pid

        def healthy():
            if self.process.poll() is not None:
                raise BenchError(f"titand exited during start (exit code "
                                 f"{self.process.returncode}); see {self.log_path}")
            return try_http_get(self.api_port, "/healthz")[0] == 200

        try:
            wait_for(healthy, 30, "titand /healthz")
        except BenchError:
            self.process.kill()
            self.process.wait()
            self.log.close()
            raise

    def metrics(self) -> dict[str, float]:
        status, body = http_get(self.metrics_port, "/metrics")
        if status != 200:
            raise BenchError(f"titand /metrics returned HTTP {status}")
        return parse_metrics(body.decode())

    def drop(self, name: str, content_path: Path) -> float:
        """Moves a finished file into incoming/; returns the wall time of the rename."""
        incoming = self.spool / "incoming"
        incoming.mkdir(parents=True, exist_ok=True)
        staged = incoming / f".{name}.tmp"
        shutil.move(str(content_path), staged)
        dropped_at = time.time()
        os.rename(staged, incoming / name)
        return dropped_at

    def wait_for_receipt(self, name: str, timeout_s: float) -> dict:
        receipt = self.spool / "done" / f"{name}.receipt.json"
        errors = self.spool / "failed" / f"{name}.errors.json"

        def arrived():
            if errors.exists():
                raise BenchError(f"titand rejected {name}: {errors.read_text()[:2000]}")
            if self.process.poll() is not None:
                raise BenchError(f"titand exited while committing {name}; see {self.log_path}")
            return receipt.exists()

        wait_for(arrived, timeout_s, f"the receipt of {name}", interval_s=0.05)
        return json.loads(receipt.read_text())

    def export_results(self, execution_ids: list[str]) -> list[dict[str, str]]:
        """Returns every result row of the given executions from the CSV export."""
        rows = []
        connection = http.client.HTTPConnection("127.0.0.1", self.api_port, timeout=60)
        try:
            for execution_id in execution_ids:
                connection.request(
                    "GET", f"/api/v1/executions/{execution_id}/results/export?format=csv")
                response = connection.getresponse()
                body = response.read()
                if response.status != 200:
                    raise BenchError(f"export of execution {execution_id} returned HTTP "
                                     f"{response.status}: {body[:300]!r}")
                rows.extend(csv.DictReader(io.StringIO(body.decode())))
        finally:
            connection.close()
        return rows

    def stop(self, timeout_s: float = 60) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                self.log.close()
                raise BenchError(f"titand did not stop within {timeout_s:.0f} s of SIGTERM; "
                                 f"killed; see {self.log_path}")
        self.log.close()
        return self.process.returncode


# ---------------------------------------------------------------------------------------
# Workload files.


def write_workload(path: Path, urls_path: Path | None, origins: list[str], items: int,
                   urls_per_task: int, route) -> tuple[int, int]:
    """Writes the NDJSON task file (and the plain URL list when urls_path is given).

    URL i goes to origins[i % len(origins)], so every task spreads over all hosts. Task names
    carry the file's stem, so two scenarios never write the same content, which would give
    their items the same execution ids and Idempotency-Keys. Returns (task lines, items).
    """
    tasks = 0
    url_out = open(urls_path, "w") if urls_path else None
    with open(path, "w") as out:
        for first in range(0, items, urls_per_task):
            urls = [f"{origins[i % len(origins)]}{route(i)}"
                    for i in range(first, min(first + urls_per_task, items))]
            line = {
                "name": f"{path.stem} task {tasks}",
                "objective": "end-to-end benchmark",
                "execution_type": "single",
                "action_type": "api_call",
                "input_source": "static_urls",
                "urls": urls,
                "limits": {"timeout_seconds": 30, "max_retries": 0},
            }
            out.write(json.dumps(line, separators=(",", ":")) + "\n")
            if url_out:
                url_out.write("\n".join(urls) + "\n")
            tasks += 1
    if url_out:
        url_out.close()
    return tasks, items


# ---------------------------------------------------------------------------------------
# Runs.


@dataclass
class BareRun:
    requests: int
    failures: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_seconds: float


def run_bare(binary: Path, urls_path: Path, concurrency: int, max_host_connections: int,
             timeout_s: float, key_prefix: str) -> BareRun:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        done = subprocess.run(
            [str(binary), "--urls", str(urls_path), "--concurrency", str(concurrency),
             "--max-host-connections", str(max_host_connections), "--deadline-seconds",
             str(int(timeout_s)), "--key-prefix", key_prefix],
            capture_output=True, text=True, timeout=timeout_s + 30)
    except subprocess.TimeoutExpired:
        raise BenchError(f"bare_curl_bench did not finish within {timeout_s + 30:.0f} s")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise BenchError(f"bare_curl_bench failed (exit code {done.returncode}): "
                         f"{done.stderr.strip()[:1000]}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return BareRun(summary["requests"], summary["failures"], summary["seconds"],
                   summary["per_second"], summary["p50_ms"], summary["p99_ms"], cpu)


@dataclass
class TitandRun:
    items: int
    tasks: int
    dropped_at: float
    done_polled_at: float = 0.0
    receipt_after_s: float = 0.0
    first_attempt: float = 0.0
    last_finish: float = 0.0
    due_to_done_ms: list[float] = field(default_factory=list)
    attempt_to_done_ms: list[float] = field(default_factory=list)
    failed_items: int = 0
    vm_hwm_kb: int = 0
    vm_rss_kb: int = 0
    cpu_seconds: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    metrics_before: dict[str, float] = field(default_factory=dict)
    exit_code: int = 0

    def end_to_end_s(self) -> float:
        return self.last_finish - self.dropped_at

    def processing_s(self) -> float:
        return self.last_finish - self.first_attempt


def wait_until_done(titand: Titand, total: int, timeout_s: float, poll_s: float) -> float:
    """Polls /metrics until every item is succeeded or failed; returns that wall time."""

    def finished():
        if titand.process.poll() is not None:
            raise BenchError(f"titand exited during the run; see {titand.log_path}")
        states = item_states(titand.metrics())
        return states.get("succeeded", 0) + states.get("failed", 0) >= total

    # Every scrape costs titand a queue scan per host for the oldest due item, so poll
    # slowly. The figures come from the exported timestamps, not from this poll.
    wait_for(finished, timeout_s, f"{total} items to finish (see {titand.log_path})",
             interval_s=poll_s)
    return time.time()


def start_perf(args, titand: Titand, name: str):
    """Starts `perf record` on titand when --perf-dir is set; returns the process or None."""
    if not args.perf_dir:
        return None
    args.perf_dir.mkdir(parents=True, exist_ok=True)
    output = args.perf_dir / f"{name}.perf.data"
    return subprocess.Popen(["perf", "record", "-F", "499", "-g", "-p", str(titand.pid), "-o",
                             str(output)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def stop_perf(perf) -> None:
    if perf is None:
        return
    perf.send_signal(signal.SIGINT)
    try:
        perf.wait(60)
    except subprocess.TimeoutExpired:
        perf.kill()
        perf.wait()


def run_titand(args, titand: Titand, workload: Path, name: str, tasks: int, items: int,
               export: bool) -> TitandRun:
    run = TitandRun(items=items, tasks=tasks, dropped_at=0.0)
    run.metrics_before = titand.metrics()
    cpu_before = cpu_seconds(titand.pid)
    perf = start_perf(args, titand, name)
    try:
        run.dropped_at = titand.drop(name, workload)
        receipt = titand.wait_for_receipt(name, args.timeout_seconds)
        run.receipt_after_s = time.time() - run.dropped_at
        if receipt.get("item_count") != items:
            raise BenchError(f"receipt of {name} lists {receipt.get('item_count')} items, "
                             f"expected {items}")
        run.done_polled_at = wait_until_done(titand, items, args.timeout_seconds,
                                             args.poll_seconds)
    finally:
        stop_perf(perf)
    run.cpu_seconds = cpu_seconds(titand.pid) - cpu_before
    status = proc_status(titand.pid)
    run.vm_hwm_kb, run.vm_rss_kb = status["VmHWM"], status["VmRSS"]
    run.metrics = titand.metrics()
    if export:
        rows = titand.export_results([task["execution_id"] for task in receipt["tasks"]])
        summarize_results(run, rows)
    return run


def summarize_results(run: TitandRun, rows: list[dict[str, str]]) -> None:
    if len(rows) != run.items:
        raise BenchError(f"export returned {len(rows)} results, expected {run.items}")
    first_attempts, finishes = [], []
    for row in rows:
        queued = parse_timestamp(row["queued_at"])
        first = parse_timestamp(row["first_attempt_at"])
        finished = parse_timestamp(row["finished_at"])
        first_attempts.append(first)
        finishes.append(finished)
        run.due_to_done_ms.append((finished - queued) * 1000)
        run.attempt_to_done_ms.append((finished - first) * 1000)
        if row["state"] != "succeeded":
            run.failed_items += 1
    run.first_attempt = min(first_attempts)
    run.last_finish = max(finishes)
    run.due_to_done_ms.sort()
    run.attempt_to_done_ms.sort()


# ---------------------------------------------------------------------------------------
# Reports.


def delta(run: TitandRun, series: str) -> float:
    return run.metrics.get(series, 0.0) - run.metrics_before.get(series, 0.0)


def print_store_figures(run: TitandRun) -> None:
    syncs = delta(run, "titand_wal_syncs_total")
    sync_sum = delta(run, "titand_wal_sync_seconds_sum")
    print(f"  group commits:       {syncs:.0f} ({syncs / max(run.items, 1):.3f} per item), "
          f"mean {1000 * sync_sum / max(syncs, 1):.2f} ms, p50 <= "
          f"{1000 * histogram_quantile(run.metrics, 'titand_wal_sync_seconds', 0.5):.2f} ms, "
          f"p99 <= {1000 * histogram_quantile(run.metrics, 'titand_wal_sync_seconds', 0.99):.2f}"
          f" ms (bucket bounds, whole process)")
    print(f"  titand CPU:          {run.cpu_seconds:.1f} s "
          f"({1e6 * run.cpu_seconds / max(run.items, 1):.0f} us per item)")
    print(f"  titand memory:       VmHWM {run.vm_hwm_kb / 1024:.1f} MiB, "
          f"VmRSS {run.vm_rss_kb / 1024:.1f} MiB (at the end of the run)")


def print_titand_run(run: TitandRun) -> None:
    e2e, processing = run.end_to_end_s(), run.processing_s()
    print(f"  titand:              {run.items} items in {run.tasks} task lines "
          f"({run.tasks} executions), {run.failed_items} failed")
    print(f"  drop -> receipt:     {run.receipt_after_s:.2f} s; drop -> first attempt "
          f"{run.first_attempt - run.dropped_at:.2f} s")
    print(f"  drop -> last done:   {e2e:.2f} s = {run.items / e2e:.0f} items/s, "
          f"{run.tasks / e2e:.1f} executions/s")
    print(f"  first attempt -> last done: {processing:.2f} s = "
          f"{run.items / processing:.0f} items/s")
    print(f"  due -> done:         p50 {percentile(run.due_to_done_ms, 0.5):.0f} ms, "
          f"p99 {percentile(run.due_to_done_ms, 0.99):.0f} ms (queued_at to finished_at; all "
          f"items are due at once, so this includes the wait in the queue)")
    print(f"  first attempt -> done: p50 {percentile(run.attempt_to_done_ms, 0.5):.0f} ms, "
          f"p99 {percentile(run.attempt_to_done_ms, 0.99):.0f} ms (claim, claim commit, "
          f"request, result; timestamps have 1 ms resolution)")
    print_store_figures(run)


def print_bare_run(bare: BareRun) -> None:
    print(f"  bare libcurl multi:  {bare.requests} requests, {bare.failures} failed, "
          f"{bare.seconds:.2f} s = {bare.per_second:.0f} requests/s, latency p50 "
          f"{bare.p50_ms:.1f} ms, p99 {bare.p99_ms:.1f} ms, CPU {bare.cpu_seconds:.1f} s")


# ---------------------------------------------------------------------------------------
# Scenarios.


def scenario_fast(args, bins, target: Target, work: Path) -> None:
    hosts = len(target.ports)
    print(f"\n== fast: {args.fast_items} items over {hosts} hosts, echo route, durability "
          f"{args.durability}, max_in_flight {args.max_in_flight}, max_connections "
          f"{args.fast_max_connections} per host, requests_per_second 0 (unlimited) ==")
    workload, urls = work / "fast.ndjson", work / "fast.urls"
    tasks, items = write_workload(workload, urls, target.origins(), args.fast_items,
                                  args.urls_per_task, lambda i: f"/item/{i}")
    print(f"  load average before: {load_average()}")
    bare = None
    if not args.no_bare:
        bare = run_bare(bins["bare_curl_bench"], urls, args.max_in_flight,
                        args.fast_max_connections, args.timeout_seconds, "bare-fast")
        print_bare_run(bare)
        if bare.failures:
            raise BenchError(f"bare_curl_bench saw {bare.failures} failed requests")

    requests_before = target.total_requests()
    titand = Titand(bins["titand"], work / "titand-fast",
                    TitandConfig(args.max_in_flight, args.fast_max_connections, 0,
                                 claim_batch=args.claim_batch, durability=args.durability))
    try:
        run = run_titand(args, titand, workload, "fast.ndjson", tasks, items, export=True)
    finally:
        exit_code = titand.stop()
    sent = target.total_requests() - requests_before
    print_titand_run(run)
    print(f"  requests at target:  {sent} for {items} items; titand exit code {exit_code}")
    print(f"  load average after:  {load_average()}")
    e2e_rate = items / run.end_to_end_s()
    processing_rate = items / run.processing_s()
    if bare is not None:
        print(f"  RATIO titand/bare:   {e2e_rate / bare.per_second:.2f} from drop, "
              f"{processing_rate / bare.per_second:.2f} from first attempt (aim >= 0.6)")
    print(f"  PEAK RSS titand:     {run.vm_hwm_kb / 1024:.1f} MiB (VmHWM)")


def scenario_delay(args, bins, target: Target, work: Path) -> None:
    hosts = len(target.ports)
    items = args.delay_items_per_host * hosts
    concurrency = min(args.max_in_flight, args.delay_max_connections * hosts)
    bound = concurrency / (args.delay_ms / 1000)
    print(f"\n== delay: {items} items of /delay/{args.delay_ms} over {hosts} hosts, "
          f"max_connections {args.delay_max_connections} per host, max_in_flight "
          f"{args.max_in_flight}, durability {args.durability} ==")
    workload, urls = work / "delay.ndjson", work / "delay.urls"
    tasks, items = write_workload(workload, urls, target.origins(), items, args.urls_per_task,
                                  lambda i: f"/delay/{args.delay_ms}")
    bare = run_bare(bins["bare_curl_bench"], urls, concurrency, args.delay_max_connections,
                    args.timeout_seconds, "bare-delay")
    print_bare_run(bare)
    titand = Titand(bins["titand"], work / "titand-delay",
                    TitandConfig(args.max_in_flight, args.delay_max_connections, 0,
                                 claim_batch=args.claim_batch, durability=args.durability))
    try:
        run = run_titand(args, titand, workload, "delay.ndjson", tasks, items, export=True)
    finally:
        titand.stop()
    print_titand_run(run)
    processing_rate = items / run.processing_s()
    print(f"  BOUND min(max_in_flight, max_connections * hosts) / {args.delay_ms} ms = "
          f"{concurrency} / {args.delay_ms / 1000:.3f} s = {bound:.0f} items/s")
    print(f"  RATIO titand/bound:  {processing_rate / bound:.2f} from first attempt, "
          f"{items / run.end_to_end_s() / bound:.2f} from drop; bare/bound "
          f"{bare.per_second / bound:.2f}")


def scenario_queued(args, bins, target: Target, work: Path) -> None:
    hosts = len(target.ports)
    items = args.queued_items
    print(f"\n== queued: {items} items over {hosts} hosts held to 0.01 requests/s "
          f"(burst 1, max_connections 1), {args.queued_urls_per_task} URLs per task line ==")
    workload = work / "queued.ndjson"
    tasks, items = write_workload(workload, None, target.origins(), items,
                                  args.queued_urls_per_task, lambda i: f"/item/{i}")
    titand = Titand(bins["titand"], work / "titand-queued",
                    TitandConfig(args.max_in_flight, 1, 0.01, burst=1,
                                 claim_batch=args.claim_batch, durability=args.durability))
    try:
        idle = proc_status(titand.pid)
        dropped_at = titand.drop("queued.ndjson", workload)
        titand.wait_for_receipt("queued.ndjson", args.timeout_seconds)
        receipt_s = time.time() - dropped_at

        def all_counted():
            states = item_states(titand.metrics())
            return sum(states.values()) >= items and states

        states = wait_for(all_counted, 60, f"{items} items in titand_items")
        after_commit = proc_status(titand.pid)
        time.sleep(args.queued_settle_seconds)
        settled = proc_status(titand.pid)
        states = item_states(titand.metrics())
    finally:
        titand.stop()
    mib = 1 / 1024
    print(f"  drop -> receipt:     {receipt_s:.1f} s ({items / receipt_s:.0f} items/s committed)")
    print(f"  items by state:      {states}")
    print(f"  before the drop:     VmRSS {idle['VmRSS'] * mib:.1f} MiB")
    print(f"  at the receipt:      VmRSS {after_commit['VmRSS'] * mib:.1f} MiB, VmHWM "
          f"{after_commit['VmHWM'] * mib:.1f} MiB")
    print(f"  {args.queued_settle_seconds:.0f} s later:         VmRSS "
          f"{settled['VmRSS'] * mib:.1f} MiB, VmHWM {settled['VmHWM'] * mib:.1f} MiB "
          f"(aim: under 200 MB = {200e6 / 2**20:.1f} MiB)")
    print(f"  RSS at {items} queued: VmRSS {settled['VmRSS'] * mib:.1f} MiB, peak "
          f"{settled['VmHWM'] * mib:.1f} MiB")


# ---------------------------------------------------------------------------------------


def describe_machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kb = int(meminfo.readline().split()[1])
    revision = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                              capture_output=True, text=True).stdout.strip() or "unknown"
    return (f"{model}, {os.cpu_count()} CPUs, {total_kb / 2**20:.1f} GiB RAM, "
            f"kernel {os.uname().release}, titand {revision}")


def build(build_dir: Path) -> None:
    if not (build_dir / "CMakeCache.txt").exists():
        subprocess.run(["cmake", "-S", str(REPO), "-B", str(build_dir), "-G", "Ninja",
                        "-DCMAKE_BUILD_TYPE=Release", "-DTITAND_BUILD_BENCH=ON"], check=True)
    subprocess.run(["ninja", "-C", str(build_dir), "-j2"] + TARGETS, check=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build-dir", type=Path, default=REPO / "build" / "benche2e",
                        help="CMake build directory (configured as Release with "
                             "TITAND_BUILD_BENCH=ON when it has no cache yet)")
    parser.add_argument("--no-build", action="store_true", help="use the binaries as they are")
    parser.add_argument("--scenarios", default="fast,delay,queued",
                        help="comma-separated subset of fast, delay, queued")

    parser.add_argument("--hosts", type=int, default=4, help="target ports (origins)")
    parser.add_argument("--durability", choices=["sync", "nosync"], default="sync")
    parser.add_argument("--max-in-flight", type=int, default=512, help="engine.max_in_flight "
                        "and the bare loop's concurrency")
    parser.add_argument("--claim-batch", type=int, default=256, help="engine.claim_batch")
    parser.add_argument("--urls-per-task", type=int, default=100,
                        help="URLs per task line in the fast and delay files")

    parser.add_argument("--fast-items", type=int, default=200_000)
    parser.add_argument("--fast-max-connections", type=int, default=128,
                        help="max_connections per host in the fast scenario")

    parser.add_argument("--delay-ms", type=int, default=50)
    parser.add_argument("--delay-items-per-host", type=int, default=5000)
    parser.add_argument("--delay-max-connections", type=int, default=64,
                        help="max_connections per host in the delay scenario")

    parser.add_argument("--queued-items", type=int, default=1_000_000)
    parser.add_argument("--queued-urls-per-task", type=int, default=100)
    parser.add_argument("--queued-settle-seconds", type=float, default=5.0,
                        help="wait after the receipt before the second RSS reading")

    parser.add_argument("--timeout-seconds", type=float, default=900,
                        help="limit for each wait (ingest, run, bare loop)")
    parser.add_argument("--no-bare", action="store_true",
                        help="skip the bare libcurl loop in the fast scenario (diagnosis only)")
    parser.add_argument("--poll-seconds", type=float, default=1.0,
                        help="interval of the /metrics polls that detect the end of a run")
    parser.add_argument("--perf-dir", type=Path,
                        help="record a CPU profile of titand (perf record -g) for each fast "
                             "and delay run into this directory")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (state, logs, workload files)")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    scenarios = {"fast": scenario_fast, "delay": scenario_delay, "queued": scenario_queued}
    chosen = [name.strip() for name in args.scenarios.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in scenarios]
    if unknown:
        print(f"run.py: unknown scenario {', '.join(unknown)}; expected fast, delay, queued",
              file=sys.stderr)
        return 2
    build_dir = args.build_dir.resolve()
    if not args.no_build:
        build(build_dir)
    bins = {"titand": build_dir / "daemon" / "titand",
            "titan-target": build_dir / "bench" / "titan-target",
            "bare_curl_bench": build_dir / "bench" / "bare_curl_bench"}
    for name, path in bins.items():
        if not path.exists():
            print(f"run.py: {name} not found at {path}; build it or drop --no-build",
                  file=sys.stderr)
            return 2

    work = Path(tempfile.mkdtemp(prefix="titand-e2e-"))
    print(f"titand end-to-end benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}"
          f", work dir {work}")
    print(f"machine: {describe_machine()}")
    target = None
    failed = False
    try:
        target = Target(bins["titan-target"], args.hosts, work)
        print(f"titan-target on ports {target.ports}")
        for name in chosen:
            scenarios[name](args, bins, target, work)
    except BenchError as error:
        print(f"run.py: {error}", file=sys.stderr)
        failed = True
    finally:
        if target is not None:
            print(f"\n{target.stop()}")
        if args.keep or failed:
            print(f"kept {work} (state, logs, workload files)")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

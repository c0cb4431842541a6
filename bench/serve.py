"""The prediction server under load (issue 11, part 3): requests per second and p50/p99 latency
with 8 concurrent clients posting a picture to `softmaxreg serve`.

The server runs as a user starts it (`softmaxreg serve RUN --port 0`, its own process); the
load comes from another process: 8 threads, each with its own keep-alive connection, posting
the same 300x220 PNG photo back to back. Each row runs --repeat rounds (default 3) against the
one server, after a warm-up; the table shows the median over the rounds of each figure. The
client and the server share this machine's cores, so the figures are the pair's, not the
server's alone. Every loop is bounded in requests and in time, and talks to 127.0.0.1 only.
Usage: python bench/serve.py [--requests N] [--repeat N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

from benchkit import make_model_and_picture

CLIENTS = 8
TIME_LIMIT_S = 60.0  # per round: a stalled server ends the bench instead of hanging it

ROWS = {
    "raw": "POST /predict, image/png body",
    "form": "POST /predict, multipart form (as the page sends)",
    "input": "POST /predict?include=input, image/png body",
    "health": "GET /health (the framework's floor)",
}


def request_for(row: str, picture: bytes) -> tuple[str, str, bytes | None, dict[str, str]]:
    """(method, path, body, headers) of one request of a row."""
    if row == "health":
        return "GET", "/health", None, {}
    if row == "form":
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="image"; '
                f'filename="one.png"\r\nContent-Type: image/png\r\n\r\n'
            ).encode()
            + picture
            + f"\r\n--{boundary}--\r\n".encode()
        )
        return (
            "POST",
            "/predict",
            body,
            {"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
    path = "/predict?include=input" if row == "input" else "/predict"
    return "POST", path, picture, {"Content-Type": "image/png"}


def load(url: str, row: str, picture: bytes, requests_per_client: int) -> dict:
    """CLIENTS threads, each sending `requests_per_client` requests on its own connection;
    returns the wall time, the count and each request's latency."""
    method, path, body, headers = request_for(row, picture)
    where = urlsplit(url)
    latencies: list[list[float]] = [[] for _ in range(CLIENTS)]
    failures: list[str] = []
    start = threading.Barrier(CLIENTS + 1)
    deadline = time.monotonic() + TIME_LIMIT_S

    def client(number: int) -> None:
        conn = http.client.HTTPConnection(where.hostname, where.port, timeout=TIME_LIMIT_S)
        conn.connect()
        start.wait()
        own = latencies[number]
        for _ in range(requests_per_client):
            if time.monotonic() > deadline:
                failures.append("time limit reached")
                break
            t0 = time.perf_counter()
            conn.request(method, path, body, headers)
            response = conn.getresponse()
            response.read()
            own.append(time.perf_counter() - t0)
            if response.status != 200:
                failures.append(f"{response.status}")
                break
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if failures:
        raise SystemExit(f"{row}: {failures[0]}")
    flat = sorted(x for own in latencies for x in own)
    return {
        "requests": len(flat),
        "rps": len(flat) / wall,
        "p50": percentile(flat, 50),
        "p99": percentile(flat, 99),
    }


def percentile(sorted_values: list[float], q: float) -> float:
    """The nearest-rank percentile."""
    rank = max(1, round(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def client_main(url: str, picture_path: str, rows: str, requests: int, repeat: int) -> None:
    """The load generator's process: warm-up, then every row's rounds interleaved."""
    picture = Path(picture_path).read_bytes()
    for row in rows.split(","):
        load(url, row, picture, 5)
    results: dict[str, list[dict]] = {row: [] for row in rows.split(",")}
    for _ in range(repeat):
        for row in results:
            results[row].append(load(url, row, picture, requests))
    print(json.dumps(results))


def peak_rss_mb(pid: int) -> float:
    """A running process's own peak resident memory (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(found.group(1)) / 1024 if found else float("nan")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=60, help="per client and round (60)")
    ap.add_argument("--repeat", type=int, default=3, help="rounds per row (median reported)")
    ap.add_argument("--rows", default=",".join(ROWS))
    ap.add_argument("--client", nargs=2, metavar=("URL", "PICTURE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.client:
        client_main(*args.client, args.rows, args.requests, args.repeat)
        return
    softmaxreg = str(Path(sys.executable).with_name("softmaxreg"))
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        run, picture = make_model_and_picture(Path(tmp))
        server = subprocess.Popen(
            [softmaxreg, "serve", str(run), "--port", "0"], stdout=subprocess.PIPE, text=True
        )
        try:
            line = server.stdout.readline() if server.stdout else ""
            found = re.search(r"http://\S+", line)
            if not found:
                raise SystemExit(f"the server did not start: {line!r}")
            url = found.group(0)
            client = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "--client",
                    url,
                    str(picture),
                    "--rows",
                    args.rows,
                    "--requests",
                    str(args.requests),
                    "--repeat",
                    str(args.repeat),
                ],
                capture_output=True,
                text=True,
            )
            if client.returncode != 0:
                raise SystemExit(f"the load generator failed: {client.stderr}")
            results = json.loads(client.stdout)
            rss = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=60)
    report(results, rss, args)


def report(results: dict[str, list[dict]], rss: float, args) -> None:
    print(
        f"\nsoftmaxreg bench: `softmaxreg serve` with {CLIENTS} concurrent clients "
        f"(keep-alive, {args.requests} requests each per round); {os.cpu_count()} CPUs shared "
        f"by server and clients; median of {args.repeat} rounds"
    )
    print("| requests | requests/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    medians = {}
    for row, rounds in results.items():
        m = {k: statistics.median(r[k] for r in rounds) for k in ("rps", "p50", "p99")}
        medians[row] = m
        print(f"| {ROWS[row]} | {m['rps']:.0f} | {m['p50'] * 1e3:.1f} | {m['p99'] * 1e3:.1f} |")
    print(f"\nserver peak RSS after the load: {rss:.0f} MB")
    if "raw" in medians and "health" in medians:
        share = medians["health"]["rps"] / medians["raw"]["rps"]
        print(f"requests/s GET /health / POST /predict: {share:.1f}x")
    if "raw" in medians and "form" in medians:
        ratio = medians["raw"]["rps"] / medians["form"]["rps"]
        print(f"requests/s raw body / multipart: {ratio:.2f}x")


if __name__ == "__main__":
    main()

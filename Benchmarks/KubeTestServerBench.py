"""Requests per second that kube-test-server sustains for list and server-side apply (loopback, bounded in time).

usage: python3 Benchmarks/KubeTestServerBench.py [--bin PATH] [--seconds 5] [--workers 2] [--objects 100] [--tls]

Each worker process keeps one HTTP/1.1 keep-alive connection and sends requests back to back:
- list:  GET /api/v1/namespaces/bench/configmaps?labelSelector=app%3Dbench&limit=500 (OBJECTS items)
- apply: PATCH .../configmaps/cm-N?fieldManager=bench (application/apply-patch+yaml) alternating values, so half the
         applies change the object and half are no-ops
"""

import argparse
import http.client
import json
import multiprocessing
import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def connect(url):
    scheme, rest = url.split("://")
    host, port = rest.split(":")
    if scheme == "https":
        return http.client.HTTPSConnection(host, int(port), context=ssl._create_unverified_context())
    return http.client.HTTPConnection(host, int(port))


def call(conn, method, path, body=None, ctype="application/json"):
    headers = {"Authorization": "Bearer bench"}
    if body is not None:
        headers["Content-Type"] = ctype
    conn.request(method, path, body=body, headers=headers)
    r = conn.getresponse()
    data = r.read()
    return r.status, data


def worker(url, kind, seconds, objects, index, out):
    conn = connect(url)
    n = 0
    errors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kind == "list":
            status, _ = call(conn, "GET", "/api/v1/namespaces/bench/configmaps?labelSelector=app%3Dbench&limit=500")
        else:
            name = f"cm-{(n + index * 7) % objects}"
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": name, "labels": {"app": "bench"}},
                               "data": {"value": str(n % 2), "owner": f"w{index}"}})
            status, _ = call(conn, "PATCH", f"/api/v1/namespaces/bench/configmaps/{name}?fieldManager=bench{index}&force=true",
                             body, "application/apply-patch+yaml")
        if status >= 300:
            errors += 1
        n += 1
    out.put((n, errors))


def run(url, kind, seconds, workers, objects):
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=worker, args=(url, kind, seconds, objects, i, q)) for i in range(workers)]
    start = time.monotonic()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - start
    total = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    return total / elapsed, errors


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.environ.get("KUBE_TEST_SERVER_BIN", str(REPO / ".build/release/kube-test-server")))
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--objects", type=int, default=100)
    ap.add_argument("--tls", action="store_true")
    args = ap.parse_args()
    cmd = [args.bin, "--port", "0", "--token", "bench"] + (["--tls"] if args.tls else [])
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    try:
        conn = connect(url)
        call(conn, "POST", "/api/v1/namespaces", json.dumps({"metadata": {"name": "bench"}}))
        for i in range(args.objects):
            call(conn, "POST", "/api/v1/namespaces/bench/configmaps",
                 json.dumps({"metadata": {"name": f"cm-{i}", "labels": {"app": "bench"}}, "data": {"value": "x"}}))
        for kind in ("list", "apply"):
            rps, errors = run(url, kind, args.seconds, args.workers, args.objects)
            print(f"{kind:5s} {rps:8.0f} req/s  ({args.workers} workers, {args.objects} objects, "
                  f"{'https' if args.tls else 'http'}, errors {errors})")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())

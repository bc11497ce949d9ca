#!/usr/bin/env python3
"""bench_regen — what a regeneration backlog costs the uploads.

Against the running stack (scripts/stack; addresses from the IP_* variables):
  1. seeds --seed images (small real JPEGs made by gw_fixture, a few distinct
     pictures uploaded again and again), all ready;
  2. idle: --n uploads one at a time, each timed from the start of its POST to
     the first info that says ready (polled every 10 ms): p50 and p90;
  3. changes the thumbnail preset (so every image has real work to redo) and
     runs `imgctl regenerate --all` (queues every ready image on the
     regeneration topic), then the same --n uploads one at a time while the
     processors work through that backlog: p50 and p90, and how many
     regenerations were done when the last upload was ready;
  4. waits for the backlog to drain (the processor's proc_regen_done_total)
     and reports the regeneration throughput; puts the preset back.
Prints "regen: ..." headline lines: both latencies, their ratio, throughput.

Run: <build>/bench/regen/bench_regen [--seed 1000] [--n 20] [--size 640x480]
(scripts/bench regen). Uses the build it sits in for imgctl and gw_fixture.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
BUILD = os.path.abspath(os.path.join(HERE, "..", ".."))
IMGCTL = os.path.join(BUILD, "common", "imgctl")
FIXTURE = os.path.join(BUILD, "tests", "gateway", "gw_fixture")
API = "http://%s/api" % os.environ.get("IP_HTTP_LISTEN", "127.0.0.1:8080")
METRICS = "http://%s/metrics" % os.environ.get("IP_PROCESSOR_METRICS_LISTEN", "127.0.0.1:9103")


def http(method, url, body=None, headers=None, timeout=60):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def upload(data):
    """POST /api/upload; the new image's id."""
    b = uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"b.jpg\"\r\n"
             "Content-Type: image/jpeg\r\n\r\n" % b).encode() + data + ("\r\n--%s--\r\n" % b).encode())
    st, out = http("POST", API + "/upload", body,
                   {"Content-Type": "multipart/form-data; boundary=%s" % b})
    assert st == 202, (st, out[:200])
    return json.loads(out)["id"]


def status(image_id):
    try:
        st, out = http("GET", API + "/image/%s/info" % image_id, timeout=30)
    except urllib.error.HTTPError as e:
        return "http %d" % e.code
    return json.loads(out)["status"] if st == 200 else "http %d" % st


def metric(name):
    _, out = http("GET", METRICS, timeout=10)
    for line in out.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise SystemExit("bench_regen: %s has no %s" % (METRICS, name))


def imgctl(*args):
    r = subprocess.run([IMGCTL, *args], capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit("bench_regen: imgctl %s: %s" % (" ".join(args), r.stderr.strip()))
    return r.stdout


def pictures(size, count):
    """`count` distinct JPEGs of `size` (WxH) made by gw_fixture."""
    w, h = size.split("x")
    out = []
    with tempfile.TemporaryDirectory() as d:
        for i in range(count):
            p = os.path.join(d, "p%d.jpg" % i)
            # Distinct sizes give distinct pictures.
            subprocess.run([FIXTURE, p, str(int(w) + i), str(int(h) + i)], check=True,
                           capture_output=True)
            out.append(open(p, "rb").read())
    return out


def wait_ready(ids, deadline_s):
    """Waits until every id is ready (or failed); the failed ones' count."""
    left, failed = set(ids), 0
    end = time.monotonic() + deadline_s
    while left:
        if time.monotonic() > end:
            raise SystemExit("bench_regen: %d images not ready in %d s" % (len(left), deadline_s))
        for i in list(left):
            s = status(i)
            if s in ("ready", "failed"):
                left.discard(i)
                failed += s == "failed"
        if left:
            time.sleep(0.5)
    return failed


def seed(data, n, clients=4):
    """n uploads from `clients` threads, then waits until all are ready."""
    ids, lock = [], threading.Lock()

    def worker(k):
        for j in range(k, n, clients):
            i = upload(data[j % len(data)])
            with lock:
                ids.append(i)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return ids, wait_ready(ids, 3600)


def one_latency(data):
    t0 = time.monotonic()
    i = upload(data)
    while True:
        s = status(i)
        if s == "ready":
            return time.monotonic() - t0
        if s not in ("pending", "processing"):
            raise SystemExit("bench_regen: upload %s ended %s" % (i, s))
        time.sleep(0.01)


def latencies(data, n):
    return [one_latency(data[k % len(data)]) for k in range(n)]


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser(description="upload latency with and without a regeneration backlog")
    ap.add_argument("--seed", type=int, default=1000, help="images seeded before measuring")
    ap.add_argument("--n", type=int, default=20, help="uploads timed in each phase")
    ap.add_argument("--size", default="640x480", help="size of the pictures (WxH)")
    a = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # progress shows in the log as it comes

    data = pictures(a.size, 8)
    t0 = time.monotonic()
    ids, failed = seed(data, a.seed)
    print("seed: %d images ready in %.1f s (%d failed)" % (len(ids), time.monotonic() - t0, failed))

    idle = latencies(data, a.n)
    print("idle: " + " ".join("%.0f" % (x * 1000) for x in idle) + " ms")

    presets = json.loads(imgctl("presets", "show", "--json"))
    thumb = next(p for p in presets["presets"] if p["kind"] == "VARIANT_THUMBNAIL")
    imgctl("presets", "set", "thumbnail", "width=%d" % (thumb["width"] - 16),
           "height=%d" % (thumb["height"] - 16))
    try:
        done0 = metric("proc_regen_done_total")
        t_regen = time.monotonic()
        out = imgctl("regenerate", "--all")
        queued = int(out.split()[1])
        t_queued = time.monotonic() - t_regen
        busy = latencies(data, a.n)
        done_at_end = metric("proc_regen_done_total") - done0
        print("busy: " + " ".join("%.0f" % (x * 1000) for x in busy) + " ms")
        while metric("proc_regen_done_total") - done0 < queued:
            time.sleep(0.2)
        t_all = time.monotonic() - t_regen
    finally:
        imgctl("presets", "set", "thumbnail", "width=%d" % thumb["width"],
               "height=%d" % thumb["height"])

    i50, i90, b50, b90 = pct(idle, 50), pct(idle, 90), pct(busy, 50), pct(busy, 90)
    print("regen: upload-to-ready idle p50 %.0f ms p90 %.0f ms (n=%d, %d images seeded)"
          % (i50 * 1000, i90 * 1000, a.n, len(ids)))
    print("regen: upload-to-ready during regenerate --all p50 %.0f ms p90 %.0f ms (n=%d; %d of %d "
          "regenerations done when the last upload was ready)"
          % (b50 * 1000, b90 * 1000, a.n, done_at_end, queued))
    print("regen: ratio busy/idle p50 %.2f p90 %.2f" % (b50 / i50, b90 / i90))
    print("regen: throughput %.1f images/s (%d regenerated in %.1f s; queued in %.1f s)"
          % (queued / t_all, queued, t_all, t_queued))
    return 0


if __name__ == "__main__":
    sys.exit(main())

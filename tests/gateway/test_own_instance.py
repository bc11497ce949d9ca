"""A gateway of the test's own (127.0.0.1:8091) with small limits, against the
stack's metadata-svc, storage-svc and Kafka: the memory budget refuses
with 503 and frees its share; SIGTERM with SSE clients connected ends the
streams and exits 0 promptly; GET /config shows the limits it was started with."""
import contextlib
import os
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import ROOT, bearer, env

PORT = 8091


def gateway_binary():
    for d in (os.environ.get("IP_BUILD_DIR"), os.environ.get("IP_GW_BUILD_DIR"),
              os.path.join(ROOT, "build", "release")):
        if d:
            p = d if os.path.isabs(d) else os.path.join(ROOT, d)
            p = os.path.join(p, "gateway", "gateway")
            if os.access(p, os.X_OK):
                return p
    raise AssertionError("no gateway binary (set IP_BUILD_DIR)")


@contextlib.contextmanager
def run_gateway(port=PORT, **overrides):
    """A gateway of the test's own on 127.0.0.1:`port` (it binds nothing
    else), with the stack's settings plus `overrides`; yields (process, base URL)."""
    e = dict(os.environ)
    for k in ("IP_METADATA_RPC_URL", "IP_METADATA_EVENTS_URL", "IP_STORAGE_RPC_URL", "IP_KAFKA_BROKERS",
              "IP_KAFKA_TOPIC", "IP_UPLOAD_MAX_BYTES", "IP_PIXEL_LIMIT"):
        if env(k):
            e[k] = env(k)
    e.update({"IP_GATEWAY_LISTEN": "127.0.0.1:%d" % port, "IP_GATEWAY_MEMORY_BYTES": str(1 << 20),
              "IP_GATEWAY_SSE_HEARTBEAT_MS": "500", "IP_GATEWAY_SWEEP_INTERVAL_MS": "3600000",
              "IP_LOG_LEVEL": "warn"})
    e.update(overrides)
    p = subprocess.Popen([gateway_binary()], env=e, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = "http://127.0.0.1:%d" % port
    try:
        end = time.monotonic() + 30
        while True:
            try:
                if requests.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert p.poll() is None, p.stderr.read().decode()[-2000:]
            assert time.monotonic() < end, "own gateway did not answer"
            time.sleep(0.1)
        yield p, base
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


@pytest.fixture
def own_gateway():
    with run_gateway() as g:
        yield g


def test_config_shows_the_limits_started_with():
    with run_gateway(IP_UPLOAD_MAX_BYTES="3000000", IP_PIXEL_LIMIT="7654321") as (_, base):
        r = requests.get(base + "/config", timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["upload_max_bytes"] == 3000000 and body["pixel_limit"] == 7654321, body
        assert [v["name"] for v in body["variants"]] == ["thumbnail", "resized", "watermarked"]


def test_memory_budget_and_clean_stop(own_gateway, png):
    p, base = own_gateway
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (2 << 20)
    r = requests.post(base + "/upload", data=big, headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 503 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    assert r.headers.get("Retry-After")
    # The refused request's share is released: a small upload goes through.
    r = requests.post(base + "/upload?ops=thumbnail", data=png, headers={"Content-Type": "image/png"}, timeout=30)
    assert r.status_code == 202, r.text
    iid = r.json()["id"]
    assert requests.delete(base + "/image/%s" % iid, headers=bearer(r.json()["owner_token"]),
                           timeout=10).status_code == 204
    # Two SSE clients connected (suspended between heartbeats), then SIGTERM.
    socks = []
    for _ in range(2):
        s = socket.create_connection(("127.0.0.1", PORT), timeout=10)
        s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b" 200 " in s.recv(4096)
        socks.append(s)
    t0 = time.monotonic()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=20)
    assert rc == 0, p.stderr.read().decode()[-2000:]
    assert time.monotonic() - t0 < 10
    for s in socks:
        s.close()

"""nginx's limits per client and its slow-client timeouts, through the stack's
nginx (http://$IP_HTTP_LISTEN), with the figures of .env.example (or the
environment): IP_NGINX_UPLOAD_CONN uploads in progress per client,
IP_NGINX_API_BURST / IP_NGINX_API_DELAY for the request rate on /api/, and
IP_NGINX_HEADER_TIMEOUT / IP_NGINX_BODY_TIMEOUT for stalled clients.

- More uploads in progress than the cap, each a body that stalls after a few
  bytes (raw sockets): the ones beyond the cap get 429 problem+json with
  Retry-After at once; once the stalled ones close, a normal upload is 202.
- A burst of GETs from more threads than the burst can slow down (a client
  with at most BURST - DELAY requests in flight is only delayed, never
  refused): some 429 problem+json, no 5xx.
- A client that stops in the middle of its request head, and one that stops
  in the middle of its body, are cut by nginx (408 or the connection closed)
  within the timeout plus a margin. The defaults (10 s) are small enough to
  test and long enough for any client that is still sending.
"""
import concurrent.futures
import os
import select
import socket
import sys
import threading
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hostile import gw  # noqa: E402  (the gateway e2e helpers)

API, env, gateway_alive, upload = gw.API, gw.env, gw.gateway_alive, gw.upload

HOSTPORT = env("IP_HTTP_LISTEN", "127.0.0.1:8080")
HOST, PORT = HOSTPORT.rsplit(":", 1)[0], int(HOSTPORT.rsplit(":", 1)[1])
UPLOAD_CONN = int(env("IP_NGINX_UPLOAD_CONN", "8"))
API_BURST = int(env("IP_NGINX_API_BURST", "100"))
API_DELAY = int(env("IP_NGINX_API_DELAY", "50"))
API_CONN = int(env("IP_NGINX_API_CONN", "32"))


def _seconds(value):
    """An nginx time ("10s", "500ms", "1m", "10") in seconds."""
    for suffix, scale in (("ms", 0.001), ("s", 1), ("m", 60)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * scale
    return float(value)


HEADER_TIMEOUT = _seconds(env("IP_NGINX_HEADER_TIMEOUT", "10s"))
BODY_TIMEOUT = _seconds(env("IP_NGINX_BODY_TIMEOUT", "10s"))
BOUNDARY = "nginxlimits"


def _connect():
    return socket.create_connection((HOST, PORT), timeout=30)


def _stalled_upload():
    """Opens an upload that announces 1 MB, sends its head and a few bytes of
    the body, and stops: the socket is returned, still open."""
    s = _connect()
    body_start = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"s.png\"\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n\x89PNG" % BOUNDARY).encode("latin-1")
    head = ("POST /api/upload HTTP/1.1\r\nHost: %s\r\n"
            "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n"
            % (HOSTPORT, BOUNDARY, 1 << 20)).encode()
    s.sendall(head + body_start)
    return s


def _answer(s, wait_s):
    """The status and text of an answer on s within wait_s (None: nothing yet;
    0: closed without an answer)."""
    s.settimeout(wait_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data or _missing_body(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except socket.timeout:
        if not data:
            return None, ""
    except ConnectionResetError:
        pass
    if not data:
        return 0, ""
    return int(data.split(b" ", 2)[1]), data.decode("latin-1")


def _missing_body(data):
    head, _, body = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) < int(line.split(b":", 1)[1])
    return False


def _header(text, name):
    for line in text.split("\r\n\r\n", 1)[0].split("\r\n")[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == name.lower():
            return v.strip()
    return None


@pytest.fixture(scope="module")
def png(tmp_path_factory):
    return gw.vips_make(str(tmp_path_factory.mktemp("limits") / "ok.png"))


def test_uploads_beyond_the_cap_are_429_then_released(png):
    held = []
    try:
        refused = []
        for _ in range(UPLOAD_CONN + 4):
            s = _stalled_upload()
            held.append(s)
        # The ones beyond the cap are answered at once; the others wait for
        # their body and answer nothing (well within the body timeout).
        deadline = time.monotonic() + 2.0
        answered = set()
        while time.monotonic() < deadline and len(answered) < len(held):
            ready, _, _ = select.select([s for s in held if s not in answered], [], [],
                                        max(0.0, deadline - time.monotonic()))
            for s in ready:
                answered.add(s)
                refused.append(_answer(s, 2.0))
        assert refused, "no upload beyond the cap of %d was refused" % UPLOAD_CONN
        assert len(refused) <= 4 + 1, refused
        for status, text in refused:
            assert status == 429, text[:400]
            assert _header(text, "Content-Type").startswith("application/problem+json"), text[:400]
            assert _header(text, "Retry-After") == "1", text[:400]
            assert '"status":429' in text, text[:400]
    finally:
        for s in held:
            s.close()
    # The stalled uploads end when their clients go; a normal one then passes.
    deadline = time.monotonic() + 10
    while True:
        r = upload(png, "after.png")
        if r.status_code != 429 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 202, r.text


def test_a_burst_of_gets_gets_429_and_no_5xx():
    threads = API_BURST - API_DELAY + API_CONN
    local = threading.local()

    def one(_):
        s = getattr(local, "s", None)
        if s is None:
            s = local.s = requests.Session()
        r = s.get(API + "/healthz", timeout=30)
        return r.status_code, r.headers.get("Content-Type", ""), r.headers.get("Retry-After"), r.text

    with concurrent.futures.ThreadPoolExecutor(threads) as ex:
        answers = list(ex.map(one, range(max(400, 6 * threads))))
    statuses = [a[0] for a in answers]
    assert not [s for s in statuses if s >= 500], statuses
    assert set(statuses) <= {200, 429}, set(statuses)
    limited = [a for a in answers if a[0] == 429]
    assert limited, "a burst of %d GETs from %d threads was never limited" % (len(answers), threads)
    for _, ctype, retry_after, text in limited:
        assert ctype.startswith("application/problem+json") and retry_after == "1", (ctype, retry_after)
        assert '"status":429' in text, text
    # The limit is per burst: a single request afterwards passes.
    deadline = time.monotonic() + 10
    while requests.get(API + "/healthz", timeout=10).status_code == 429:
        assert time.monotonic() < deadline, "still limited 10 s after the burst"
        time.sleep(0.2)


def _cut_within(s, timeout_s):
    """nginx ends the connection (408 or closed) within timeout_s + margin."""
    start = time.monotonic()
    status, text = _answer(s, timeout_s + 10)
    took = time.monotonic() - start
    assert status in (0, 408), (status, text[:300])
    assert took <= timeout_s + 5, "cut after %.1f s (timeout %.1f s)" % (took, timeout_s)
    return took


def test_a_stalled_request_head_is_cut():
    s = _connect()
    try:
        s.sendall(("GET /api/healthz HTTP/1.1\r\nHost: %s\r\nX-Slow: " % HOSTPORT).encode())
        _cut_within(s, HEADER_TIMEOUT)
    finally:
        s.close()
    gateway_alive()


def test_a_stalled_upload_body_is_cut():
    s = _stalled_upload()
    try:
        _cut_within(s, BODY_TIMEOUT)
    finally:
        s.close()
    gateway_alive()

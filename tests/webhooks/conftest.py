"""Helpers of the webhook e2e tests: a receiver on loopback, subscriptions
through the API, signature checks, and polling with deadlines.

The stack helpers (HTTP through nginx, imgctl, API keys) are those of
tests/gateway/conftest.py, loaded under another name. The stack runs with
short retry settings (scripts/test: IP_WEBHOOK_RETRY_BASE_MS=200,
IP_WEBHOOK_RETRY_MAX_MS=1000, IP_WEBHOOK_POLL_MS=200,
IP_WEBHOOK_TIMEOUT_MS=2000); RETRY_MAX_S and TIMEOUT_S below read the same
variables so the waits follow them.

Receiver: an http.server in a thread on 127.0.0.1, on a free port (or one
given, to come up later where a subscription already points). Each request's
path, headers (lower-case names), exact body bytes and arrival time are
recorded. What it answers is set per test: `script` is a list of actions
taken one per request ("ok" = 204, 500, or ("hang", seconds)), then
`default` for every request after.
"""
import base64
import hashlib
import hmac
import importlib.util
import json
import os
import re
import socket
import struct
import threading
import time
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

_GW = os.path.join(os.path.dirname(__file__), "..", "gateway", "conftest.py")
_spec = importlib.util.spec_from_file_location("gw_conftest", _GW)
gw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gw)

RETRY_MAX_S = int(gw.env("IP_WEBHOOK_RETRY_MAX_MS", "1000")) / 1000.0
TIMEOUT_S = int(gw.env("IP_WEBHOOK_TIMEOUT_MS", "2000")) / 1000.0
POLL_S = int(gw.env("IP_WEBHOOK_POLL_MS", "200")) / 1000.0
# The waits below are multiples of these: on a stack with the production
# defaults (retries an hour apart) they would run for hours, so refuse at once.
if RETRY_MAX_S > 10 or TIMEOUT_S > 10 or POLL_S > 10:
    raise RuntimeError(
        "the webhook tests wait on retries and need the test stack's short settings "
        "(scripts/test exports IP_WEBHOOK_RETRY_MAX_MS=1000, IP_WEBHOOK_TIMEOUT_MS=2000, "
        "IP_WEBHOOK_POLL_MS=200); this environment has %g s, %g s, %g s"
        % (RETRY_MAX_S, TIMEOUT_S, POLL_S))
# What one attempt may take at most end to end (claim, send, finish), with
# room for a loaded machine: waits are multiples of it.
ATTEMPT_S = RETRY_MAX_S + TIMEOUT_S + POLL_S + 2.0


def wait_for(what, fn, deadline_s=60, every_s=0.1):
    """Polls fn() until it returns something true; that value. Fails with
    `what` and the last value after deadline_s."""
    end = time.monotonic() + deadline_s
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > end:
            raise AssertionError("%s: not within %ss (last: %r)" % (what, deadline_s, last))
        time.sleep(every_s)


# ------------------------------------------------------------------ signature

def readme_receiver():
    """The README's receiver example ("Verifying the signature"), taken from
    README.md and run as written: its namespace, with `verify` and the `Hook`
    handler class. Only the last line, which would serve on port 8000 for
    ever, is left out. So the README's code is what every test checks
    signatures with, and a README example that stopped working fails here."""
    path = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(path, encoding="utf-8") as f:
        readme = f.read()
    m = re.search(r"```python\n(import base64, hashlib, hmac, time\n.*?)```", readme, re.S)
    assert m, "README.md: the receiver example (```python, import base64, hashlib, hmac, time)"
    code = m.group(1)
    serve = code.rstrip().splitlines()[-1]
    assert serve.startswith("HTTPServer(") and serve.endswith(".serve_forever()"), serve
    ns = {"__name__": "readme_receiver"}
    exec(compile(code.rstrip()[: -len(serve)], "README.md", "exec"), ns)
    return ns


_README = readme_receiver()


def verify_signature(secret, headers, body, tolerance_s=300):
    """The Standard Webhooks check a receiver makes: the README's `verify`
    itself (readme_receiver) — the HMAC-SHA256 of
    "<webhook-id>.<webhook-timestamp>.<body>" under the base64-decoded
    secret, compared in constant time with each "v1," signature of the
    header; a timestamp too far from now is refused."""
    return _README["verify"](secret, headers, body, tolerance_s)


# ------------------------------------------------------------------ the receiver

class Receiver:
    """A webhook receiver on 127.0.0.1 (see the module's docstring)."""

    def __init__(self, port=0):
        self.port = port or free_port()
        self.requests = []
        self.script = []
        self.default = "ok"
        self.cond = threading.Condition()
        self.release = threading.Event()  # ends every hang early (stop)
        self.server = None
        self.thread = None

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def start(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with receiver.cond:
                    action = receiver.script.pop(0) if receiver.script else receiver.default
                    receiver.requests.append({
                        "path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                        "body": body, "at": time.time(), "action": action})
                    receiver.cond.notify_all()
                if isinstance(action, tuple) and action[0] == "hang":
                    receiver.release.wait(action[1])
                status = 500 if action == 500 else 204
                try:
                    self.send_response(status)
                    payload = b"receiver says 500" if status == 500 else b""
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the sender gave up (a hang past its timeout)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.release.set()
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def received(self, path=None, event=None, image_id=None):
        """The requests so far (optionally of one path, event type, image)."""
        with self.cond:
            out = list(self.requests)
        if path:
            out = [r for r in out if r["path"] == path]
        if event or image_id:
            out = [r for r in out if _match(r, event, image_id)]
        return out

    def wait(self, n=1, deadline_s=60, **match):
        """Waits until at least n matching requests arrived; them."""
        return wait_for("receiver got %d %s" % (n, match),
                        lambda: (lambda got: got if len(got) >= n else None)(self.received(**match)),
                        deadline_s)


def _match(r, event, image_id):
    try:
        body = json.loads(r["body"])
    except ValueError:
        return False
    return (not event or body.get("type") == event) and \
        (not image_id or body.get("data", {}).get("id") == image_id)


def free_port():
    """A port nothing listens on now (bound, then closed)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def receiver():
    r = Receiver().start()
    yield r
    r.stop()


# ------------------------------------------------------------------ the API

def key_headers(key):
    return gw.bearer(key["key"])


_made = []  # subscriptions made by the running test (deleted after it)


def subscribe(key, url, status=201, **fields):
    """POST /webhooks as `key`; the 201 body (with the secret). The
    subscription is deleted when the test ends."""
    body = {"url": url, **fields}
    r = gw.session.post(gw.API + "/webhooks", json=body, headers=key_headers(key), timeout=30)
    assert r.status_code == status, (r.status_code, r.text)
    if r.status_code == 201:
        _made.append(r.json()["id"])
    return r.json()


@pytest.fixture(autouse=True)
def delete_subscriptions():
    """After each test, its subscriptions go (an admin key; 404 when the test
    deleted one itself): one left behind would keep sending every later
    image's events to a port another test's receiver may come to use."""
    yield
    while _made:
        sub_id = _made.pop()
        r = gw.session.delete(gw.API + "/webhooks/%s" % sub_id, headers=gw.bearer(gw.admin_secret()),
                              timeout=30)
        assert r.status_code in (204, 404), (r.status_code, r.text)


def unsubscribe(key, sub_id):
    r = gw.session.delete(gw.API + "/webhooks/%s" % sub_id, headers=key_headers(key), timeout=30)
    assert r.status_code == 204, (r.status_code, r.text)


def deliveries(key, sub_id, **params):
    """The delivery log (items, newest first)."""
    r = gw.get("/webhooks/%s/deliveries" % sub_id, params=params, headers=key_headers(key))
    assert r.status_code == 200, (r.status_code, r.text)
    return r.json()["items"]


def delivery_of(key, sub_id, image_id, event):
    for d in deliveries(key, sub_id, limit=100):
        if d["image_id"] == image_id and d["event"] == event:
            return d
    return None


def wait_delivery(key, sub_id, image_id, event, pred, what, deadline_s=60):
    """Polls the log until the delivery of (image, event) satisfies pred."""
    return wait_for(what, lambda: (lambda d: d if d and pred(d) else None)(
        delivery_of(key, sub_id, image_id, event)), deadline_s, every_s=0.1)


def png_unique(w=16, h=12):
    """A small PNG of random pixels: bytes no other upload has (an upload with
    a key of bytes already there would answer with that image instead)."""
    raw = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def upload_as(key, data=None):
    """Uploads fresh bytes with `key` (None: anonymous); the 202's (or 200's) body."""
    headers = key_headers(key) if key else {}
    r = gw.upload(data or png_unique(), "hook.png", headers=headers)
    assert r.status_code == 202, (r.status_code, r.text)
    return r.json()


def upload_ready(key):
    """An upload with `key` that the processor made ready; its id."""
    image_id = upload_as(key)["id"]
    assert gw.wait_status(image_id, deadline_s=120)["status"] == "ready"
    return image_id

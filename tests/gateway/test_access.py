"""Who may do what (issue 15), through nginx: every role against every endpoint.

Roles: anonymous (no Authorization), owner (the token from the image's own
upload), other owner (another upload's token), an API key of each scope
(read, upload, delete, admin; made with `imgctl keys create`), a revoked key,
a well-formed key nobody made, and a malformed Bearer. Endpoints: POST
/upload, GET /images, GET /image/{id} (a public variant and the original),
/image/{id}/info, DELETE /image/{id}, POST /image/{id}/retry (on an image the
processor failed: a PNG whose pixel data does not inflate), /events, /config,
/healthz, /readyz, /metrics, /openapi.json. EXPECT is the table of statuses;
every refusal is problem+json, a 401 carries `WWW-Authenticate: Bearer`, and
no answer echoes the secret it was sent.

Also: the owner token's form and that it is in no log of the stack; an image
without an owner (owner_hash NULL, as from before owners) is deleted only by a
key; /metrics and /readyz's details on the gateway's own address; and a
gateway of the test's own with IP_GATEWAY_UPLOAD_NEEDS_KEY=true refusing an
anonymous upload with 401 before its body is sent.
"""
import glob
import hashlib
import os
import re
import socket
import struct
import time
import zlib

import pytest
import requests

from conftest import (API, ROOT, bearer, env, get, info, make_key, problem, psql, revoke_key,
                      session, upload, wait_status)
from test_own_instance import run_gateway

DIRECT = "http://%s" % env("IP_GATEWAY_LISTEN", "127.0.0.1:8081")
NEEDS_KEY_PORT = 8094
OWNER_TOKEN = re.compile(r"^ipo_[A-Za-z0-9_-]{43}$")

ROLES = ("anonymous", "owner", "other_owner", "read", "upload", "delete", "admin", "revoked",
         "unknown", "malformed")
_OPEN = (200,) * 7 + (401,) * 3
# Statuses per endpoint, in the order of ROLES.
EXPECT = {
    "upload":   (202, 202, 202, 202, 202, 202, 202, 401, 401, 401),
    "list":     _OPEN,
    "variant":  _OPEN,
    "original": (401, 200, 403, 403, 403, 403, 200, 401, 401, 401),
    "info":     _OPEN,
    "delete":   (401, 204, 403, 403, 403, 204, 204, 401, 401, 401),
    "retry":    (401, 202, 403, 403, 403, 403, 202, 401, 401, 401),
    "events":   _OPEN,
    "config":   _OPEN,
    "healthz":  _OPEN,
    "readyz":   _OPEN,
    "metrics":  (401, 403, 403, 403, 403, 403, 200, 401, 401, 401),
    "openapi":  _OPEN,
    "access":   _OPEN,
}
# What GET /access says of each role that it answers.
ACCESS = {"anonymous": ("anonymous", []), "owner": ("owner", []), "other_owner": ("owner", []),
          "read": ("key", ["read"]), "upload": ("key", ["upload"]), "delete": ("key", ["delete"]),
          "admin": ("key", ["admin"])}
CASES = [(ep, role, EXPECT[ep][i]) for ep in EXPECT for i, role in enumerate(ROLES)]


def damaged_png():
    """A PNG whose header admits (64 x 48, RGB) but whose IDAT does not
    inflate: accepted by the gateway, failed by the processor."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    idat = zlib.compress(b"\0" * 64)[:-4] + b"not deflate data" * 4
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 64, 48, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def uploaded(data, name, headers=None):
    r = upload(data, name, ops="thumbnail", headers=headers or {})
    assert r.status_code == 202, r.text
    body = r.json()
    assert OWNER_TOKEN.match(body["owner_token"]), body
    return body


class World:
    """The keys of every role and the images they act on. Secrets made here
    are remembered so the log check can look for each one."""

    def __init__(self, png, admin):
        self.png = png
        self.admin = admin
        self.keys = {s: make_key(s)["key"] for s in ("read", "upload", "delete")}
        self.keys["admin"] = admin
        revoked = make_key("read,delete")
        revoke_key(revoked["id"])
        self.keys["revoked"] = revoked["key"]
        self.keys["unknown"] = "ipk_" + "A" * 43
        self.keys["malformed"] = "ipk_short"
        self.mine = self.ready_image("mine.png")
        self.theirs = self.ready_image("theirs.png")
        self.failed = self.failed_image()
        self.secrets = set(self.keys.values())
        self.made = []

    def ready_image(self, name):
        body = uploaded(self.png, name)
        done = wait_status(body["id"])
        assert done["status"] == "ready", done
        return body

    def failed_image(self):
        body = uploaded(damaged_png(), "damaged.png")
        done = wait_status(body["id"])
        assert done["status"] == "failed" and done["error"], done
        return body

    def headers(self, role, image):
        """The Authorization of `role` acting on `image` (an upload's 202 body)."""
        if role == "anonymous":
            return {}
        if role == "owner":
            return bearer(image["owner_token"])
        if role == "other_owner":
            other = self.theirs if image is not self.theirs else self.mine
            return bearer(other["owner_token"])
        return bearer(self.keys[role])

    def remember(self, body):
        self.made.append(body)
        self.secrets.add(body["owner_token"])

    def cleanup(self):
        for b in [self.mine, self.theirs, self.failed] + self.made:
            r = session.delete(API + "/image/%s" % b["id"], headers=bearer(self.admin), timeout=10)
            assert r.status_code in (202, 204, 404), r.text


@pytest.fixture(scope="module")
def world(png, admin_key):
    w = World(png, admin_key)
    yield w
    w.cleanup()


def target(world, ep, role, status):
    """The image a case acts on: a fresh one when the action would change it
    (an allowed DELETE or retry), else the shared one."""
    if ep == "delete" and status == 204:
        body = world.ready_image("del-%s.png" % role)
        world.remember(body)
        return body
    if ep == "retry" and status == 202:
        body = world.failed_image()
        world.remember(body)
        return body
    return world.failed if ep == "retry" else world.mine


def call(world, ep, role, image):
    h = world.headers(role, image)
    iid = image["id"]
    if ep == "upload":
        return upload(world.png, "access-%s.png" % role, ops="thumbnail", headers=h)
    if ep == "delete":
        return session.delete(API + "/image/%s" % iid, headers=h, timeout=10)
    if ep == "retry":
        return session.post(API + "/image/%s/retry" % iid, headers=h, timeout=30)
    if ep == "events":
        return session.get(API + "/events?id=%s" % iid, headers=h, stream=True, timeout=10)
    path = {"list": "/images?limit=5", "variant": "/image/%s?variant=thumbnail" % iid,
            "original": "/image/%s?variant=original" % iid, "info": "/image/%s/info" % iid,
            "config": "/config", "healthz": "/healthz", "readyz": "/readyz", "metrics": "/metrics",
            "openapi": "/openapi.json", "access": "/access"}[ep]
    return get(path, headers=h)


def assert_refusal(r, status, secret):
    body = problem(r, status)
    if status == 401:
        assert r.headers.get("WWW-Authenticate", "").startswith("Bearer"), r.headers
    if secret:
        assert secret not in r.text and secret not in str(r.headers), "the answer echoes the secret"
    return body


def assert_allowed(world, ep, role, image, r):
    """What a user checks in an answer the rules allow."""
    if ep == "upload":
        body = r.json()
        assert OWNER_TOKEN.match(body["owner_token"]), body
        world.remember(body)
    elif ep == "original":
        assert r.content == world.png and r.headers["Content-Type"] == "image/png"
    elif ep == "variant":
        assert r.headers["Content-Type"].startswith("image/") and r.content
    elif ep == "delete":
        assert r.content == b""
        problem(info(image["id"]), 404)
    elif ep == "retry":
        body = r.json()
        assert body["id"] == image["id"] and body["status"] in ("pending", "processing", "failed"), body
        # The job ran again: the image is failed again, by the processor.
        assert wait_status(image["id"])["status"] == "failed"
    elif ep == "events":
        assert r.headers["Content-Type"].startswith("text/event-stream")
    elif ep == "readyz":
        body = r.json()
        assert body["status"] == "ready"
        # Through nginx only an admin key sees the per-dependency details.
        assert ("checks" in body) == (role == "admin"), body
    elif ep == "metrics":
        assert r.headers["Content-Type"].startswith("text/plain") and "gw_" in r.text
    elif ep == "access":
        body = r.json()
        assert (body["kind"], body["scopes"]) == ACCESS[role], body
        assert body["uploads_need_key"] is False
    elif ep in ("list", "info"):
        text = r.text
        assert "owner_token" not in text and "owner_hash" not in text
        assert "/o/" not in text, "a listing gives an original's URL"


@pytest.mark.parametrize("ep,role,status", CASES, ids=["%s-%s" % (c[0], c[1]) for c in CASES])
def test_role_on_endpoint(world, ep, role, status):
    image = target(world, ep, role, status)
    secret = world.headers(role, image).get("Authorization", " ").split(" ", 1)[1]
    r = call(world, ep, role, image)
    try:
        if status >= 400:
            assert_refusal(r, status, secret)
            if ep in ("delete", "retry"):
                # A refused action changed nothing.
                still = info(image["id"])
                assert still.status_code == 200 and still.json()["status"] == (
                    "failed" if ep == "retry" else "ready"), still.text
        else:
            assert r.status_code == status, (ep, role, r.status_code, r.text[:300])
            assert_allowed(world, ep, role, image, r)
    finally:
        r.close()


def test_malformed_authorization_headers(world):
    """Anything but `Bearer <owner token or key>` is 401 on an open route too."""
    for value in ("Bearer", "Bearer ", "bearer", "Basic dXNlcjpwYXNz", "Bearer ipo_" + "!" * 43,
                  "Bearer ipo_" + "A" * 42, "Bearer ipk_" + "A" * 44, "Bearer %s %s" % (
                      world.keys["read"], world.keys["read"]), "Token %s" % world.keys["admin"]):
        for path in ("/images", "/healthz", "/image/%s/info" % world.mine["id"]):
            r = get(path, headers={"Authorization": value})
            assert_refusal(r, 401, None)


def test_owner_token_of_one_image_gives_nothing_on_another(world):
    h = bearer(world.theirs["owner_token"])
    mine = world.mine["id"]
    problem(get("/image/%s?variant=original" % mine, headers=h), 403)
    problem(session.delete(API + "/image/%s" % mine, headers=h, timeout=10), 403)
    problem(session.post(API + "/image/%s/retry" % world.failed["id"], headers=h, timeout=10), 403)
    assert info(mine).json()["status"] == "ready"


def test_unknown_ids_and_not_failed(world):
    """Valid credentials on an unknown id: 404; a retry of an image that is not failed: 409."""
    unknown = "01a00000-0000-7000-8000-000000000000"
    admin = bearer(world.admin)
    for h in (admin, bearer(world.keys["delete"]), bearer(world.mine["owner_token"])):
        problem(session.delete(API + "/image/%s" % unknown, headers=h, timeout=10), 404)
    problem(session.post(API + "/image/%s/retry" % unknown, headers=admin, timeout=10), 404)
    problem(get("/image/%s?variant=original" % unknown, headers=admin), 404)
    for h in (admin, bearer(world.mine["owner_token"])):
        problem(session.post(API + "/image/%s/retry" % world.mine["id"], headers=h, timeout=10), 409)
    assert info(world.mine["id"]).json()["status"] == "ready"


def test_second_delete_by_owner_is_404(world):
    body = world.ready_image("twice.png")
    world.remember(body)
    h = bearer(body["owner_token"])
    assert session.delete(API + "/image/%s" % body["id"], headers=h, timeout=10).status_code == 204
    problem(session.delete(API + "/image/%s" % body["id"], headers=h, timeout=10), 404)


def test_owner_token_form_and_storage(world):
    a, b = world.mine, world.theirs
    assert OWNER_TOKEN.match(a["owner_token"]) and a["owner_token"] != b["owner_token"]
    # Only the hash is stored, in the image's row.
    stored = psql("select owner_hash from images where id = '%s'" % a["id"])
    assert stored == hashlib.sha256(a["owner_token"].encode()).hexdigest()
    assert psql("select count(*) from images where owner_hash like 'ipo_%%'") == "0"
    # Shown once: nothing else gives it out again.
    for r in (info(a["id"]), get("/images?limit=100"), get("/image/%s" % a["id"]),
              get("/image/%s/info" % a["id"], headers=bearer(a["owner_token"]))):
        assert a["owner_token"] not in r.text


def test_image_without_owner_only_by_key(world):
    body = world.ready_image("legacy.png")
    world.remember(body)
    iid = body["id"]
    psql("update images set owner_hash = NULL where id = '%s'" % iid)
    own = bearer(body["owner_token"])
    problem(session.delete(API + "/image/%s" % iid, headers=own, timeout=10), 403)
    problem(get("/image/%s?variant=original" % iid, headers=own), 403)
    assert_refusal(session.delete(API + "/image/%s" % iid, timeout=10), 401, None)
    problem(session.delete(API + "/image/%s" % iid, headers=bearer(world.keys["read"]), timeout=10), 403)
    r = get("/image/%s?variant=original" % iid, headers=bearer(world.admin))
    assert r.status_code == 200 and r.content == world.png
    r = session.delete(API + "/image/%s" % iid, headers=bearer(world.keys["delete"]), timeout=10)
    assert r.status_code == 204, r.text
    problem(info(iid), 404)


def test_internals_on_the_gateways_own_address(world):
    """On its own address (no X-Forwarded-For) /metrics and the detailed
    /readyz answer anyone; a request that claims to come through the proxy is
    held to the proxied rule; an invalid Bearer is 401 here too."""
    r = requests.get(DIRECT + "/metrics", timeout=10)
    assert r.status_code == 200 and "gw_" in r.text
    r = requests.get(DIRECT + "/readyz", timeout=10)
    assert r.status_code == 200 and r.json()["status"] == "ready" and r.json()["checks"], r.text
    proxied = {"X-Forwarded-For": "203.0.113.9"}
    assert_refusal(requests.get(DIRECT + "/metrics", headers=proxied, timeout=10), 401, None)
    problem(requests.get(DIRECT + "/metrics", headers={**proxied, **bearer(world.keys["read"])},
                         timeout=10), 403)
    r = requests.get(DIRECT + "/metrics", headers={**proxied, **bearer(world.admin)}, timeout=10)
    assert r.status_code == 200 and "gw_" in r.text
    r = requests.get(DIRECT + "/readyz", headers=proxied, timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ready"}, r.text
    assert_refusal(requests.get(DIRECT + "/metrics", headers=bearer(world.keys["revoked"]), timeout=10),
                   401, world.keys["revoked"])


# ------------------------------------------------------------------ closed uploads

def raw_request(port, head, read_timeout=10):
    """Sends only the request head; the status line and headers the server
    answers with before any body was sent."""
    s = socket.create_connection(("127.0.0.1", port), timeout=read_timeout)
    try:
        s.sendall(head.encode())
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got.decode("latin-1")
    finally:
        s.close()


def test_upload_needs_key(world):
    with run_gateway(NEEDS_KEY_PORT, IP_GATEWAY_UPLOAD_NEEDS_KEY="true") as (_, base):
        # 50 MB announced, nothing sent: the answer comes from the headers alone.
        t0 = time.monotonic()
        head = raw_request(NEEDS_KEY_PORT, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                           "Content-Length: 50000000\r\n\r\n")
        assert head.startswith("HTTP/1.1 401"), head[:200]
        assert "www-authenticate: bearer" in head.lower()
        assert time.monotonic() - t0 < 5

        def up(headers):
            # on_duplicate=new: these keys uploaded the same bytes already.
            return requests.post(base + "/upload?ops=thumbnail&on_duplicate=new", data=world.png,
                                 headers={"Content-Type": "image/png", **headers}, timeout=30)
        assert_refusal(up({}), 401, None)
        for role in ("read", "delete"):
            problem(up(bearer(world.keys[role])), 403)
        problem(up(bearer(world.mine["owner_token"])), 403)
        assert_refusal(up(bearer(world.keys["revoked"])), 401, world.keys["revoked"])
        for role in ("upload", "admin"):
            r = up(bearer(world.keys[role]))
            assert r.status_code == 202, r.text
            body = r.json()
            assert OWNER_TOKEN.match(body["owner_token"])
            world.remember(body)
            # The token of a closed upload works as on an open one.
            r = requests.delete(base + "/image/%s" % body["id"], headers=bearer(body["owner_token"]), timeout=10)
            assert r.status_code == 204, r.text


def test_no_secret_in_any_log(world):
    """Runs last (pytest keeps file order): every owner token and
    key this module sent or received appears in no log of the stack."""
    log_dir = os.path.join(os.environ.get("IP_VAR_DIR") or os.path.join(ROOT, "var"), "log")
    if not os.path.isabs(log_dir):
        log_dir = os.path.join(ROOT, log_dir)
    logs = glob.glob(os.path.join(log_dir, "*.log"))
    assert logs, "no logs in %s" % log_dir
    secrets = [s for s in world.secrets if len(s) == 47]
    assert len(secrets) > 10
    for path in logs:
        text = open(path, "rb").read()
        for s in secrets:
            assert s.encode() not in text, "%s holds a secret (%s…)" % (path, s[:8])

"""Shared helpers for the gateway's e2e tests.

Everything goes through nginx (http://$IP_HTTP_LISTEN/api). "Nothing stored" is
checked in PostgreSQL (psql with IP_PG_DSN) and in the bucket (a SigV4-signed
ListObjectsV2 against IP_S3_ENDPOINT). Fixture images are generated at test
time with the `vips` command line (tiny, so the suite stays fast).

Access (issue 15): every upload's 202 carries its owner token; a test that
deletes an image or reads its original sends that token (`bearer(body
["owner_token"])`) or the session's admin key (the `admin_key` fixture, or
`admin_secret()` outside a fixture), which `imgctl keys create` makes against
the stack's metadata-svc.
"""
import datetime
import hashlib
import hmac
import json
import os
import subprocess
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import pytest
import requests


def _env_file():
    vals = {}
    root = os.environ.get("IP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
    for name in (".env.example", ".env"):
        p = os.path.join(root, name)
        if os.path.exists(p):
            for line in open(p):
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    k, v = line.split("=", 1)
                    vals[k] = v
    return vals


_ENV = _env_file()


def env(name, default=None):
    return os.environ.get(name) or _ENV.get(name) or default


ROOT = os.path.abspath(env("IP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
API = "http://%s/api" % env("IP_HTTP_LISTEN", "127.0.0.1:8080")
PG_DSN = env("IP_PG_DSN")
S3 = env("IP_S3_ENDPOINT", "http://127.0.0.1:19000")
BUCKET = env("IP_S3_BUCKET", "images")
UPLOAD_MAX = int(env("IP_UPLOAD_MAX_BYTES", "52428800"))


def stack_script():
    return os.path.join(ROOT, "scripts", "stack")


def stack(*args):
    """scripts/stack start|stop <component>: the one stack the suite runs on
    (tests run one at a time, so stopping a component affects only the test
    that does it; it must start it again in a `finally`)."""
    r = subprocess.run([stack_script(), *args], cwd=ROOT, env=dict(os.environ),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr


def stack_pids(component):
    """The live pids of every instance of `component`, from the stack's pid
    files ($IP_VAR_DIR/run/<name>.pid, or <name>-<n>.pid when several run)."""
    out = []
    run = os.path.join(ROOT, env("IP_VAR_DIR", "var"), "run")
    for f in sorted(os.listdir(run)) if os.path.isdir(run) else []:
        name = f[:-4]
        if f.endswith(".pid") and (name == component or (name.startswith(component + "-") and name[len(component) + 1:].isdigit())):
            try:
                pid = int(open(os.path.join(run, f)).read().strip())
                os.kill(pid, 0)
                out.append(pid)
            except (ValueError, OSError):
                pass
    return out


# ------------------------------------------------------------------ HTTP

session = requests.Session()


def get(path, **kw):
    kw.setdefault("timeout", 30)
    return session.get(API + path, **kw)


def upload(data, filename="x.png", ops=None, ctype=None, **kw):
    fields = {"file": (filename, data, ctype or "application/octet-stream")}
    form = {"ops": ops} if ops else None
    return session.post(API + "/upload", files=fields, data=form, timeout=60, **kw)


def upload_ok(data, filename="x.png", ops=None):
    r = upload(data, filename, ops)
    assert r.status_code == 202, r.text
    return r.json()


def info(image_id):
    return get("/image/%s/info" % image_id)


def wait_status(image_id, want=("ready", "failed"), deadline_s=60):
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        r = info(image_id)
        if r.status_code == 200:
            last = r.json()
            if last["status"] in want:
                return last
        time.sleep(0.1)
    raise AssertionError("image %s not %s within %ss (last %s)" % (image_id, want, deadline_s, last))


def problem(r, status):
    assert r.status_code == status, (r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["detail"], body
    return body


def bearer(secret):
    """The Authorization header of an owner token or an API key."""
    return {"Authorization": "Bearer %s" % secret}


def delete(image_id, secret, **kw):
    """DELETE /image/{id} with a secret (the image's owner token or a key)."""
    kw.setdefault("timeout", 10)
    return session.delete(API + "/image/%s" % image_id, headers=bearer(secret), **kw)


def delete_own(body, **kw):
    """DELETE the image of an upload's 202 body with its own owner token."""
    return delete(body["id"], body["owner_token"], **kw)


def gateway_alive():
    r = get("/healthz", timeout=5)
    assert r.status_code == 200


# ------------------------------------------------------------------ PostgreSQL

def psql(sql):
    out = subprocess.run(["psql", PG_DSN, "-At", "-c", sql], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def rows_total():
    return int(psql("select count(*) from images"))


def row_exists(image_id):
    return psql("select count(*) from images where id = '%s'" % image_id) != "0"


# ------------------------------------------------------------------ imgctl and API keys

def build_dir():
    d = os.environ.get("IP_BUILD_DIR") or os.environ.get("IP_GW_BUILD_DIR") or os.path.join(ROOT, "build", "release")
    return d if os.path.isabs(d) else os.path.join(ROOT, d)


def imgctl(*args, stdin=None, check=True):
    """Runs the operator's tool against the stack; its JSON answer (one
    document, or a list when it printed one object a line)."""
    exe = os.path.join(build_dir(), "common", "imgctl")
    r = subprocess.run([exe, *args], input=stdin, capture_output=True, text=True, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    out = r.stdout.strip()
    if not out:
        return {}
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        # Several objects, one a line (keys list).
        return [json.loads(l) for l in out.splitlines() if l.strip()]


def make_key(scopes, name=None):
    """A new API key: {"id", "key", "prefix", "scopes", ...}; the key is shown only here."""
    k = imgctl("keys", "create", "--name", name or "test %s %s" % (scopes, uuid.uuid4().hex[:8]),
               "--scopes", scopes)
    assert k["key"].startswith("ipk_") and k["scopes"] == scopes.split(","), k
    return k


def revoke_key(key_id):
    return imgctl("keys", "revoke", key_id)


_admin = {}


def admin_secret():
    """One admin key per test process, made on first use."""
    if "key" not in _admin:
        _admin["key"] = make_key("admin", "tests admin %s" % uuid.uuid4().hex[:8])["key"]
    return _admin["key"]


@pytest.fixture(scope="session")
def admin_key():
    return admin_secret()


# ------------------------------------------------------------------ S3 (SigV4)

def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def s3_list(prefix):
    """Keys under prefix (ListObjectsV2, SigV4-signed)."""
    access, secret = env("IP_S3_ACCESS_KEY"), env("IP_S3_SECRET_KEY")
    region = env("IP_S3_REGION", "us-east-1")
    u = urllib.parse.urlparse(S3)
    keys, token = [], None
    while True:
        q = {"list-type": "2", "prefix": prefix}
        if token:
            q["continuation-token"] = token
        qs = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                      for k, v in sorted(q.items()))
        now = datetime.datetime.now(datetime.timezone.utc)
        amzdate, datestamp = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
        payload = hashlib.sha256(b"").hexdigest()
        path = "/%s" % BUCKET
        canonical = "\n".join(["GET", path, qs, "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n" % (u.netloc, payload, amzdate),
                               "host;x-amz-content-sha256;x-amz-date", payload])
        scope = "%s/%s/s3/aws4_request" % (datestamp, region)
        sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(canonical.encode()).hexdigest()])
        k = _sign(_sign(_sign(_sign(("AWS4" + secret).encode(), datestamp), region), "s3"), "aws4_request")
        sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=%s" % (access, scope, sig)
        r = requests.get("%s%s?%s" % (S3, path, qs), headers={"x-amz-date": amzdate, "x-amz-content-sha256": payload, "Authorization": auth}, timeout=30)
        assert r.status_code == 200, r.text[:300]
        root = ET.fromstring(r.content)
        ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
        keys += [c.find(ns + "Key").text for c in root.findall(ns + "Contents")]
        if root.findtext(ns + "IsTruncated") == "true":
            token = root.findtext(ns + "NextContinuationToken")
        else:
            return keys


def objects_of(image_id):
    return s3_list("o/%s" % image_id) + s3_list("v/%s/" % image_id)


def originals_total():
    return len(s3_list("o/"))


def v7_floor(ms):
    """The smallest UUIDv7 text for a Unix time in ms (v7 text sorts by time)."""
    h = "%012x" % ms
    return "%s-%s-7000-8000-000000000000" % (h[:8], h[8:12])


def _is_v7(s):
    try:
        return uuid.UUID(s).version == 7 and len(s) == 36
    except ValueError:
        return False


def rows_missing(ids):
    if not ids:
        return []
    have = set(psql("select id from images where id in (%s)" % ",".join("'%s'" % i for i in ids)).split())
    return [i for i in ids if i not in have]


class Snapshot:
    """Checks that a refused request left nothing behind, on a stack other
    clients may be using at the same time: no row carries the request's marker
    filename, and every original stored since the snapshot belongs to a row
    (a refused upload's object would have none). An original whose row is
    being committed by a concurrent upload is given a few seconds."""

    def __init__(self):
        self.t0_ms = int(time.time() * 1000) - 1000
        self.marker = "bad-" + uuid.uuid4().hex

    def assert_unchanged(self):
        if self.marker:
            assert psql("select count(*) from images where filename like '%%%s%%'" % self.marker) == "0", \
                "a row was left behind"
        start = "o/" + v7_floor(self.t0_ms)
        end = time.monotonic() + 10
        while True:
            now = "o/" + v7_floor(int(time.time() * 1000) + 1000)
            keys = [k for k in s3_list("o/") if start < k < now and _is_v7(k[2:])]
            orphans = rows_missing([k[2:] for k in keys])
            if not orphans:
                return
            assert time.monotonic() < end, "objects left behind: %s" % orphans


# ------------------------------------------------------------------ fixtures

def _fixture_tool():
    """gw_fixture (built beside the tests, libvips) or, outside ctest, the vips CLI."""
    p = os.environ.get("IP_GW_FIXTURE")
    if p and os.access(p, os.X_OK):
        return p
    for d in (os.environ.get("IP_GW_BUILD_DIR"), os.environ.get("IP_BUILD_DIR")):
        if d:
            q = os.path.join(d if os.path.isabs(d) else os.path.join(ROOT, d), "tests", "gateway", "gw_fixture")
            if os.access(q, os.X_OK):
                return q
    return None


def vips_make(path, w=64, h=48):
    tool = _fixture_tool()
    if tool:
        subprocess.run([tool, path, str(w), str(h)], check=True, capture_output=True)
    else:
        tmp = path + ".v.png"
        subprocess.run(["vips", "black", tmp, str(w), str(h), "--bands", "3"], check=True, capture_output=True)
        subprocess.run(["vips", "linear", tmp, path, "1", "90", "--uchar"], check=True, capture_output=True)
        os.unlink(tmp)
    return open(path, "rb").read()


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    d = tmp_path_factory.mktemp("img")
    out = {}
    for ext in ("jpg", "png", "webp", "gif", "tif", "avif", "heic"):
        out[ext] = vips_make(str(d / ("a." + ext)))
    return out


@pytest.fixture(scope="session")
def png(images):
    return images["png"]


def new_id():
    return str(uuid.uuid4())


def pretty(o):
    return json.dumps(o, indent=1)[:500]

"""The machinery of the chaos tests: the stack, a steady upload load, and the
state checks that say whether every accepted upload ended where it should.

How it works. The tests run against the stack scripts/test started (its
IP_VAR_DIR), through nginx like a user. They take parts away with
`scripts/stack kill <component>` (SIGKILL of the part's process group, as a
crash) and bring them back with `scripts/stack start`, which waits for the
part's real readiness probe. Uploads come from `Load`: a few threads that
share one schedule (a steady rate, never a burst to catch up), each with its
own HTTP session, recording when every request started and ended and what it
answered, so a test can tell an upload that was in flight at a kill from one
that started after it. What happened to the accepted uploads is read from
PostgreSQL (psql, IP_PG_DSN), the bucket (SigV4 ListObjectsV2) and the API;
waits poll that real state against a deadline, never a fixed sleep.

The figures every test prints (accepted, refused, ended ready, stuck,
orphans, time to drain after recovery) also go, one JSON line per test, to
$IP_VAR_DIR/log/chaos-figures.txt, which scripts/test prints after ctest.

Settings (environment, for running locally): IP_CHAOS_OUTAGE_MS (how long an
outage lasts, default 60000), IP_CHAOS_DOWN_MS (how long a killed part stays
down, default 3000), IP_CHAOS_UPLOADS (uploads of the kill test, default 300),
IP_CHAOS_DRAIN_MS (how long a drain may take, default 240000).
"""
import datetime
import importlib.util
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time

import requests

_HERE = os.path.dirname(os.path.abspath(__file__))

# The gateway's e2e helpers (env, psql, the SigV4 bucket listing, fixture
# images) are reused as a library, under a name of their own.
_spec = importlib.util.spec_from_file_location("gateway_e2e", os.path.join(_HERE, "..", "gateway", "conftest.py"))
gw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gw)

env, psql, s3_list, v7_floor = gw.env, gw.psql, gw.s3_list, gw.v7_floor
ROOT, API = gw.ROOT, gw.API
BASE = API[: -len("/api")]
STACK = os.path.join(ROOT, "scripts", "stack")
VAR_DIR = os.path.abspath(os.path.join(ROOT, env("IP_VAR_DIR", "var")))
SERVICES = ("metadata-svc", "storage-svc", "processor", "gateway")
COUNT_VARS = {"metadata-svc": "IP_METADATA_INSTANCES", "storage-svc": "IP_STORAGE_INSTANCES",
              "processor": "IP_PROCESSOR_INSTANCES", "gateway": "IP_GATEWAY_INSTANCES"}


def setting_ms(name, default):
    return int(env(name, str(default))) / 1000.0


OUTAGE_S = setting_ms("IP_CHAOS_OUTAGE_MS", 60000)
DOWN_S = setting_ms("IP_CHAOS_DOWN_MS", 3000)
DRAIN_S = setting_ms("IP_CHAOS_DRAIN_MS", 240000)
UPLOADS = int(env("IP_CHAOS_UPLOADS", "300"))


def say(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


# ------------------------------------------------------------------ the stack

def configured_counts():
    return {svc: int(env(var, "1")) for svc, var in COUNT_VARS.items()}


def stack(*args, counts=None, timeout=300):
    """Runs scripts/stack ARGS (with the instance counts `counts`, else the
    configured ones); fails the test with its output when it fails."""
    e = dict(os.environ)
    e.update({COUNT_VARS[s]: str(n) for s, n in (counts or configured_counts()).items()})
    t0 = time.monotonic()
    r = subprocess.run([STACK, *args], cwd=ROOT, env=e, capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - t0
    say("scripts/stack %s: rc %d in %.1fs" % (" ".join(args), r.returncode, took))
    assert r.returncode == 0, "scripts/stack %s failed:\n%s" % (" ".join(args), (r.stdout + r.stderr)[-4000:])
    return took


def pids(component):
    """The live pids of every instance of `component` (its pid files)."""
    return gw.stack_pids(component)


def pause_processors():
    """SIGSTOP every processor, so that jobs wait in Kafka (shorter than the
    consumer group's session timeout, so no rebalance)."""
    for p in pids("processor"):
        os.kill(p, signal.SIGSTOP)


def resume_processors():
    for p in pids("processor"):
        try:
            os.kill(p, signal.SIGCONT)
        except OSError:
            pass


def wait_api_ready(deadline_s=120):
    """Polls GET /api/readyz through nginx until it answers 200."""
    end = time.monotonic() + deadline_s
    last = None
    while time.monotonic() < end:
        try:
            r = requests.get(API + "/readyz", timeout=5)
            if r.status_code == 200:
                return
            last = "%d %s" % (r.status_code, r.text[:200])
        except requests.RequestException as ex:
            last = str(ex)
        time.sleep(0.25)
    raise AssertionError("the API is not ready after %ds: %s" % (deadline_s, last))


def restore(changed_counts=False):
    """Everything up again with the configured instance counts. Services that
    ran with other counts are restarted, so every client has the right lists."""
    resume_processors()
    if changed_counts:
        stack("stop", *SERVICES)
    stack("start")
    wait_api_ready()


# ------------------------------------------------------------------ images

def make_images(tmp_dir, n=12):
    """n small generated images, JPEG and PNG, of assorted sizes."""
    rnd = random.Random(13)
    out = []
    for i in range(n):
        ext = "jpg" if i % 2 else "png"
        w, h = rnd.randint(48, 480), rnd.randint(48, 480)
        path = os.path.join(str(tmp_dir), "c%02d.%s" % (i, ext))
        out.append(("c%02d.%s" % (i, ext), gw.vips_make(path, w, h)))
    return out


# ------------------------------------------------------------------ the load

class Upload:
    __slots__ = ("t0", "t1", "code", "id", "token", "err")

    def __init__(self, t0):
        self.t0, self.t1, self.code, self.id, self.token, self.err = t0, None, None, None, None, None


class Load:
    """Uploads through nginx from `workers` threads at `rate` per second in
    all, until stop(). Every request is kept as an Upload: start and end time
    (time.monotonic), HTTP status (0: no answer), and the id and owner token
    of a 202 (the token is what may delete the image)."""

    def __init__(self, images, rate, workers=4, url=None):
        self.images, self.rate, self.workers = images, rate, workers
        self.url = url or API + "/upload"
        self.uploads = []
        self._mu = threading.Lock()
        self._next = time.monotonic()
        self._stop = threading.Event()
        self._threads = []

    def start(self):
        for i in range(self.workers):
            t = threading.Thread(target=self._run, args=(i,), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=120)

    def _slot(self):
        with self._mu:
            now = time.monotonic()
            slot = max(self._next, now)
            self._next = slot + 1.0 / self.rate
        return slot

    def _run(self, i):
        s = requests.Session()
        rnd = random.Random(i)
        while not self._stop.is_set():
            slot = self._slot()
            if self._stop.wait(max(0.0, slot - time.monotonic())):
                return
            name, data = rnd.choice(self.images)
            u = Upload(time.monotonic())
            try:
                r = s.post(self.url, files={"file": (name, data, "application/octet-stream")}, timeout=60)
                u.code = r.status_code
                if r.status_code == 202:
                    u.id, u.token = r.json()["id"], r.json()["owner_token"]
                else:
                    u.err = r.text[:200]
            except requests.RequestException as ex:
                u.code, u.err = 0, str(ex)[:200]
                s = requests.Session()
            u.t1 = time.monotonic()
            with self._mu:
                self.uploads.append(u)

    def snapshot(self):
        with self._mu:
            return list(self.uploads)

    def accepted(self):
        return [u.id for u in self.snapshot() if u.code == 202]

    def tokens(self):
        """id -> owner token of every accepted upload."""
        return {u.id: u.token for u in self.snapshot() if u.code == 202}

    def count(self, code):
        return sum(1 for u in self.snapshot() if u.code == code)

    def unexpected(self):
        """Answers other than 202 and 503 (a refusal while a dependency is down)."""
        return [u for u in self.snapshot() if u.code not in (202, 503)]


# ------------------------------------------------------------------ state

def _chunks(xs, n=500):
    xs = list(xs)
    for i in range(0, len(xs), n):
        yield xs[i:i + n]


def statuses(ids):
    """{id: status} from PostgreSQL; an id without a row maps to None."""
    out = {i: None for i in ids}
    for part in _chunks(ids):
        rows = psql("select id, status from images where id in (%s)" % ",".join("'%s'" % i for i in part))
        for line in rows.splitlines():
            i, st = line.split("|")
            out[i] = st
    return out


def busy_rows(since_ms):
    """Rows pending or processing among those made since `since_ms`:
    [(id, status, updated_at)]."""
    rows = psql("select id, status, updated_at from images where status in ('pending','processing') "
                "and id >= '%s' order by id" % v7_floor(since_ms))
    return [tuple(line.split("|")) for line in rows.splitlines() if line]


def failed_reasons(ids):
    out = {}
    for part in _chunks(ids):
        rows = psql("select id, error from images where status = 'failed' and id in (%s)" % ",".join("'%s'" % i for i in part))
        for line in rows.splitlines():
            i, err = line.split("|", 1)
            out[i] = err
    return out


def wait_drained(ids, since_ms, deadline_s=None):
    """Polls PostgreSQL until every id is ready and no row made since
    `since_ms` (the test's own) is pending or processing, or until nothing
    can change any more (no such row pending or processing, and every image
    not ready is failed or gone), or until the deadline. Returns (outcome:
    "drained", "settled" or "deadline"; seconds it took; {id: status} of the
    ids not ready; the rows still pending or processing)."""
    deadline_s = DRAIN_S if deadline_s is None else deadline_s
    t0 = time.monotonic()
    while True:
        st = statuses(ids)
        not_ready = {i: s for i, s in st.items() if s != "ready"}
        busy = busy_rows(since_ms)
        took = time.monotonic() - t0
        if not not_ready and not busy:
            return "drained", took, {}, []
        if not busy and all(s in ("failed", None) for s in not_ready.values()):
            return "settled", took, not_ready, busy
        if took > deadline_s:
            return "deadline", took, not_ready, busy
        time.sleep(0.5)


def orphans(since_ms):
    """Objects without their row (their keys) and rows without their original
    (their ids), among the ids made since `since_ms` (UUIDv7 ids sort by time)."""
    floor = v7_floor(since_ms)
    rows = set(psql("select id from images where id >= '%s'" % floor).split())
    keys = [k for k in s3_list("o/") + s3_list("v/") if len(k) >= 38]
    obj_ids = {}
    for k in keys:
        i = k[2:38]
        if i >= floor:
            obj_ids.setdefault(i, []).append(k)
    originals = {k[2:] for k in keys if k.startswith("o/")}
    no_row = sorted(k for i, ks in obj_ids.items() if i not in rows for k in ks)
    no_original = sorted(i for i in rows if i not in originals)
    return no_row, no_original


def wait_no_orphans(since_ms, deadline_s=90):
    """Polls the bucket and PostgreSQL until there are no orphans (a purge in
    progress is given until the deadline); returns the last (no_row, no_original)."""
    end = time.monotonic() + deadline_s
    while True:
        no_row, no_original = orphans(since_ms)
        if (not no_row and not no_original) or time.monotonic() > end:
            return no_row, no_original
        time.sleep(1)


# ------------------------------------------------------------------ deletes

class Deleter:
    """Deletes ready images of a Load now and then (every `every_s` seconds),
    each with the owner token its upload was given, keeping for each the /media/ URLs of its variants, to check afterwards
    that the image is gone everywhere."""

    def __init__(self, load, every_s, limit):
        self.load, self.every_s, self.limit = load, every_s, limit
        self.deleted = {}  # id -> [media urls]
        self.codes = {}
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self._t.start()
        return self

    def stop(self):
        self._stop.set()
        self._t.join(timeout=60)

    def _run(self):
        s = requests.Session()
        rnd = random.Random(7)
        while not self._stop.wait(self.every_s) and len(self.deleted) < self.limit:
            tokens = self.load.tokens()
            ids = [i for i in tokens if i not in self.deleted]
            rnd.shuffle(ids)
            for i in ids[:5]:
                try:
                    r = s.get(API + "/image/%s/info" % i, timeout=10)
                    if r.status_code != 200 or r.json()["status"] != "ready":
                        continue
                    urls = [v["url"] for v in r.json()["variants"].values() if v.get("url")]
                    d = s.delete(API + "/image/%s" % i, headers=gw.bearer(tokens[i]), timeout=30)
                except requests.RequestException:
                    s = requests.Session()
                    continue
                self.codes[d.status_code] = self.codes.get(d.status_code, 0) + 1
                if d.status_code in (202, 204):
                    self.deleted[i] = urls
                break

    def check_gone(self, deadline_s=90):
        """Problems with the deleted images, after the purger had until the
        deadline: API paths not 404, objects left in the bucket, /media/ not 404."""
        end = time.monotonic() + deadline_s
        while True:
            problems = []
            for i, urls in self.deleted.items():
                for path in ("/image/%s" % i, "/image/%s/info" % i):
                    c = requests.get(API + path, timeout=10, allow_redirects=False).status_code
                    if c != 404:
                        problems.append("%s: GET /api%s answered %d" % (i, path, c))
                left = s3_list("o/%s" % i) + s3_list("v/%s/" % i)
                if left:
                    problems.append("%s: objects left in the bucket: %s" % (i, left))
                for u in urls:
                    c = requests.get(BASE + u, timeout=10).status_code
                    if c != 404:
                        problems.append("%s: GET %s answered %d" % (i, u, c))
            if not problems or time.monotonic() > end:
                return problems
            time.sleep(1)


# ------------------------------------------------------------------ figures

def figures(test, **fig):
    """Prints the test's figures and appends them to chaos-figures.txt."""
    fig = {"test": test, "at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), **fig}
    line = json.dumps(fig, sort_keys=False)
    say("FIGURES " + line)
    try:
        os.makedirs(os.path.join(VAR_DIR, "log"), exist_ok=True)
        with open(os.path.join(VAR_DIR, "log", "chaos-figures.txt"), "a") as f:
            f.write(line + "\n")
    except OSError:
        pass
    return fig


def status_figures(ids):
    """How many of ids ended ready, failed, or have no row."""
    st = statuses(ids).values()
    return {"ended_ready": sum(1 for s in st if s == "ready"), "failed": sum(1 for s in st if s == "failed"),
            "missing": sum(1 for s in st if s is None)}


def image_count(keys_or_ids):
    """How many images a list of keys ("o/<id>", "v/<id>/...") or ids names."""
    return len({k[2:38] if k[:2] in ("o/", "v/") else k[:36] for k in keys_or_ids})


def drain_figures(outcome, took, t_recovered, t_wait):
    """The drain time after recovery (None when the deadline passed)."""
    if outcome == "deadline":
        return {"drain": outcome, "drain_after_recovery_s": None}
    return {"drain": outcome, "drain_after_recovery_s": round(t_wait + took - t_recovered, 1)}


class Problems:
    """The failed checks of a test, collected so that one run reports them
    all; done() fails the test with every one of them."""

    def __init__(self):
        self.items = []

    def check(self, ok, what):
        if not ok:
            self.items.append(what)

    def not_ready(self, not_ready, when=""):
        self.check(not not_ready, "accepted uploads that did not end ready%s: %d, e.g. %s" % (
            " " + when if when else "", len(not_ready), describe_not_ready(not_ready)))

    def busy(self, busy):
        self.check(not busy, "rows still pending or processing: %d, e.g. %s" % (len(busy), busy[:8]))

    def orphans(self, no_row, no_original):
        self.check(not no_row, "objects without their row: %d images, e.g. %s" % (image_count(no_row), no_row[:8]))
        self.check(not no_original, "rows without their original: %d, e.g. %s" % (len(no_original), no_original[:8]))

    def done(self, fig):
        assert not self.items, "\n".join(["%d problem(s); figures %s" % (len(self.items), json.dumps(fig))] + self.items)


def describe_not_ready(not_ready, limit=8):
    reasons = failed_reasons([i for i, s in not_ready.items() if s == "failed"])
    items = sorted(not_ready.items(), key=lambda kv: str(kv[1]))
    return ["%s %s%s" % (i, s or "missing", (": " + reasons[i][:160]) if i in reasons else "") for i, s in items[:limit]]


def processor_health():
    """/healthz and the waiting/retry lines of /metrics of the first processor (for the log)."""
    addr = env("IP_PROCESSOR_METRICS_LISTEN", "127.0.0.1:9103")
    out = {}
    try:
        out["healthz"] = requests.get("http://%s/healthz" % addr, timeout=3).text[:300]
        m = requests.get("http://%s/metrics" % addr, timeout=3).text
        out["metrics"] = [l for l in m.splitlines() if not l.startswith("#") and ("wait" in l or "retr" in l or "transient" in l)][:12]
    except requests.RequestException as ex:
        out["error"] = str(ex)[:200]
    return out


# ------------------------------------------------------------------ events

class EventStream:
    """GET /events from one gateway (host:port), read in a thread: keeps the
    ids that reached "ready" (the image's own event, no variant). A plain
    HTTP/1.0 socket that close() can shut down at once."""

    def __init__(self, hostport):
        host, port = hostport.rsplit(":", 1)
        self.ready, self.count = set(), 0
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.sock.sendall(("GET /events HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n" % hostport).encode())
        self.sock.settimeout(None)
        self.f = self.sock.makefile("rb")
        status = self.f.readline().decode()
        assert " 200 " in status, status
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        # Only status events carry data; one JSON object per data line.
        try:
            for raw in self.f:
                if raw.startswith(b"data:"):
                    e = json.loads(raw[5:])
                    self.count += 1
                    if e.get("status") == "ready" and not e.get("variant"):
                        self.ready.add(e["id"])
        except (OSError, ValueError):
            pass

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def updated_epochs(ids):
    """{id: updated_at as Unix seconds} from PostgreSQL."""
    out = {}
    for part in _chunks(ids):
        rows = psql("select id, extract(epoch from updated_at) from images where id in (%s)" % ",".join("'%s'" % i for i in part))
        for line in rows.splitlines():
            i, t = line.split("|")
            out[i] = float(t)
    return out


def instance_addr(addr, k):
    """An instance's address, as scripts/stack gives it: the port plus 10*(k-1)."""
    host, port = addr.rsplit(":", 1)
    return "%s:%d" % (host, int(port) + 10 * (k - 1))

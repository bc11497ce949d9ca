"""What the hostile-input tests share: the gateway e2e helpers, the peak
memory of the stack's processes, the figures file, a signed PutObject, and the
words that name a refusal's cause.

Peak memory. Each service of the stack runs with its pid in
$IP_VAR_DIR/run/<name>.pid (<name>-<n>.pid when several instances run). The
kernel keeps a process's peak resident size in /proc/<pid>/status (VmHWM);
writing "5" to /proc/<pid>/clear_refs resets it to the current size, so a test
resets it, does one thing, and reads how far the peak rose: the most that one
thing made the process hold at once (plus whatever other clients of the stack
did meanwhile, which only makes a bound harder to meet, never easier).

Figures. Every measured case appends one line to
$IP_VAR_DIR/log/hostile-figures.txt (scripts/test removes the file before
ctest and prints it after the summary): what was done, the case, its size,
the answer, the time and the peak growth of the gateway and the processor.

The gateway's e2e helpers (env, upload, info, psql, the SigV4 bucket listing,
Snapshot, the generated images) are reused as a library under a name of their
own, so that pytest's conftest of this folder and of tests/gateway do not
shadow each other.
"""
import datetime
import hashlib
import hmac
import importlib.util
import os
import re
import subprocess
import time
import urllib.parse

import requests

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("gateway_e2e", os.path.join(_HERE, "..", "gateway", "conftest.py"))
gw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gw)

env, API, ROOT = gw.env, gw.API, gw.ROOT
VAR_DIR = os.path.abspath(os.path.join(ROOT, env("IP_VAR_DIR", "var")))
FIGURES = os.path.join(VAR_DIR, "log", "hostile-figures.txt")
MIB = 1 << 20


# ------------------------------------------------------------------ processes

def pids(component):
    """The live pids of every instance of `component`; at least one."""
    out = gw.stack_pids(component)
    assert out, "no running %s in %s" % (component, os.path.join(VAR_DIR, "run"))
    return out


def one_pid(component):
    p = pids(component)
    assert len(p) == 1, "%s runs %d instances; these tests measure one" % (component, len(p))
    return p[0]


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError("no %s in /proc/%d/status" % (field, pid))


def address_space_mib(component):
    """The address space (VmSize) of every instance of `component`, MiB: it
    shows a buffer reserved but not yet written, which VmHWM does not."""
    return sum(_status_kib(p, "VmSize") for p in pids(component)) / 1024.0


_idle_gave_up = [False]


def wait_processor_idle(deadline_s=30):
    """Waits until no image is being processed (a live lease) or waits on the
    queue (pending, enqueued in the last minute), from PostgreSQL, so that a
    measurement of the processor's peak is not one of an earlier test's jobs.
    True when idle. False when deadline_s ran out: the measurement then goes
    on and says so in its bound's message, and later calls do not wait again
    (a job lost by an earlier test must not cost every case the deadline)."""
    sql = ("select count(*) from images where (status = 'processing' and lease_until > now()) or "
           "(status = 'pending' and enqueued_at > now() - interval '1 minute')")
    end = time.monotonic() + (0 if _idle_gave_up[0] else deadline_s)
    while gw.psql(sql) != "0":
        if time.monotonic() >= end:
            _idle_gave_up[0] = True
            return False
        time.sleep(0.2)
    return True


class Peak:
    """The peak resident size of the gateway's and the processor's processes
    from now on: start() resets each one's VmHWM, growth_mib() says how far it
    rose above the size at the reset."""

    def __init__(self, components=("gateway", "processor")):
        self.pids = {c: pids(c) for c in components}
        self.base = {}

    def start(self):
        for c, ps in self.pids.items():
            for p in ps:
                with open("/proc/%d/clear_refs" % p, "w") as f:
                    f.write("5")
                self.base[p] = _status_kib(p, "VmHWM")
        return self

    def growth_mib(self, component):
        """The largest growth among the instances of `component`, MiB."""
        return max((_status_kib(p, "VmHWM") - self.base[p]) / 1024.0 for p in self.pids[component])


# ------------------------------------------------------------------ figures

def figure(kind, case, nbytes, status, ms, gw_mib=None, proc_mib=None, note=""):
    """One line of the figures file (see the top of this file)."""
    os.makedirs(os.path.dirname(FIGURES), exist_ok=True)
    f_mib = lambda v: "-" if v is None else "%+.1f" % v
    line = "%-7s %-28s %10s B  status %-6s %7.0f ms  gateway peak %8s MiB  processor peak %8s MiB%s\n" % (
        kind, case, nbytes, status, ms, f_mib(gw_mib), f_mib(proc_mib), ("  " + note) if note else "")
    with open(FIGURES, "a") as f:
        f.write(line)


# ------------------------------------------------------------------ causes

# What a refusal's detail must say for each reason code of common/ip_admit.h:
# one of the listed phrases (case-insensitive), the part of the sentence that
# tells a person what is wrong with the file. A problem body whose `reason`
# member is the code passes as well.
CAUSE_WORDS = {
    "unsupported_type": ("not a supported image",),
    "truncated": ("truncated", "cut short", "than the file holds", "past the end", "outside the file"),
    "malformed": ("malformed", "invalid", "impossible", "broken", "unknown", "unexpected", "stray",
                  "loops", "no size", "no image", "no meta", "no frame", "too short", "empty",
                  "does not start"),
    "metadata_too_large": ("metadata",),
    "too_many_chunks": ("chunks", "markers", "boxes", "entries"),
    "too_many_scans": ("scans",),
    "too_many_frames": ("frames", "pages", "images", "items"),
    "bad_brand": ("brand",),
    "trailing_data": ("trailing", "after its", "two things at once"),
    "pixel_limit": ("pixels",),
}


def cause_words(reason):
    """The words that name `reason`: the table's, else the code's own words."""
    if reason in CAUSE_WORDS:
        return CAUSE_WORDS[reason]
    return tuple(w for w in re.split(r"[^a-z0-9]+", reason.lower()) if len(w) >= 4) or (reason.lower(),)


def names_cause(text, reason):
    t = (text or "").lower()
    return reason.lower() in t or any(w in t for w in cause_words(reason))


# ------------------------------------------------------------------ S3 PutObject

def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def s3_put(key, data):
    """PutObject of `data` at `key` in the stack's bucket, SigV4-signed with
    the payload's hash (the way the gateway's bucket listing is signed)."""
    access, secret = env("IP_S3_ACCESS_KEY"), env("IP_S3_SECRET_KEY")
    region = env("IP_S3_REGION", "us-east-1")
    u = urllib.parse.urlparse(gw.S3)
    path = "/%s/%s" % (gw.BUCKET, urllib.parse.quote(key, safe="/-_.~"))
    now = datetime.datetime.now(datetime.timezone.utc)
    amzdate, datestamp = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(data).hexdigest()
    headers = "host:%s\nx-amz-content-sha256:%s\nx-amz-date:%s\n" % (u.netloc, payload, amzdate)
    signed = "host;x-amz-content-sha256;x-amz-date"
    canonical = "\n".join(["PUT", path, "", headers, signed, payload])
    scope = "%s/%s/s3/aws4_request" % (datestamp, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amzdate, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    k = _hmac(_hmac(_hmac(_hmac(("AWS4" + secret).encode(), datestamp), region), "s3"), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    auth = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (access, scope, signed, sig)
    r = requests.put(gw.S3 + path, data=data, timeout=60,
                     headers={"x-amz-date": amzdate, "x-amz-content-sha256": payload, "Authorization": auth})
    assert r.status_code == 200, (r.status_code, r.text[:300])


# ------------------------------------------------------------------ imgctl

def imgctl_path():
    """IP_IMGCTL (ctest sets it to the build's imgctl), else the one of the
    build the stack runs (IP_BUILD_DIR)."""
    found = [os.environ.get("IP_IMGCTL")]
    d = env("IP_BUILD_DIR")
    if d:
        found.append(os.path.join(d if os.path.isabs(d) else os.path.join(ROOT, d), "common", "imgctl"))
    for p in found:
        if p and os.access(p, os.X_OK):
            return p
    raise AssertionError("no imgctl (IP_IMGCTL, or common/imgctl in IP_BUILD_DIR)")


def imgctl(*args, timeout=60):
    return subprocess.run([imgctl_path(), *args], capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ))


def timed(f, *a, **kw):
    """(f's result, milliseconds it took)."""
    t0 = time.monotonic()
    r = f(*a, **kw)
    return r, (time.monotonic() - t0) * 1000.0

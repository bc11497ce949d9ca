"""Slow clients and a hung dependency stall only their own requests.

These talk to the gateway directly (IP_GATEWAY_LISTEN, no nginx): what is
measured is the gateway's own threads and memory, not nginx's buffering or
its per-client limits.

Stalled clients. 200 uploads send their headers (multipart, Content-Length
40 MB) and a few KB of the body, then nothing; 100 SSE clients open
GET /events and read nothing. Meanwhile 50 GET /images and 50 GET /healthz,
each on a new connection, must all answer 200 with a p95 latency of at most
max(10 x the p95 measured just before, 500 ms). While the uploads stall the
gateway's peak memory may rise by 64 MiB at most: each stalled upload holds
what it received, not what its Content-Length announces (200 x 40 MB would
be 8 GB), and its address space (VmSize) may grow by 512 MiB at most, so
a buffer reserved from Content-Length but not yet written (which is not
resident, so VmHWM misses it) is caught too. Once the sockets are closed, a normal upload is accepted.

A hung dependency. The S3 server (then Kafka) is stopped with SIGSTOP while
uploads are in progress: for the next 5 s GET /images and
GET /image/{id}/info of an existing image, sent over 32 open keep-alive
connections in turn (as nginx reuses its upstream connections), must each
answer 200 within 1 s.
SIGCONT comes in a `finally`; the uploads then end 202 or 503 within the RPC
and Kafka timeouts, never hang.
"""
import os
import select
import signal
import socket
import threading
import time

import pytest
import requests

import hostile
from hostile import Peak, figure, gw

GATEWAY = "http://" + gw.env("IP_GATEWAY_LISTEN", "127.0.0.1:8081")
STALLED_UPLOADS = 200
SSE_CLIENTS = 100
PROBES = 50
ANNOUNCED = 40 * 1000 * 1000
SENT = 4096
STALL_GROWTH_MIB = 64
STALL_ADDRESS_SPACE_MIB = 512
P95_FLOOR_MS = 500
HUNG_S = 5.0
HUNG_BOUND_MS = 1000
KEEPALIVE_CONNECTIONS = 32
# Past the gateway's waits on a hung dependency: the RPC to storage-svc and
# the wait for Kafka's acknowledgement, each possibly once more, plus slack.
UPLOAD_END_S = 2 * (int(gw.env("IP_RPC_TIMEOUT_MS", "5000")) + int(gw.env("IP_GATEWAY_KAFKA_TIMEOUT_MS", "5000"))) / 1000 + 30


def _addr():
    host, port = gw.env("IP_GATEWAY_LISTEN", "127.0.0.1:8081").rsplit(":", 1)
    return host, int(port)


def p95(values):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def probe_round():
    """PROBES GET /images and PROBES GET /healthz, interleaved, each on a new
    connection: [(path, status, ms)]. A request that does not answer within
    30 s counts as status 0."""
    out = []
    for _ in range(PROBES):
        for path in ("/images?limit=5", "/healthz"):
            t0 = time.monotonic()
            try:
                code = requests.get(GATEWAY + path, timeout=30).status_code
            except requests.RequestException:
                code = 0
            out.append((path, code, (time.monotonic() - t0) * 1000.0))
    return out


def stalled_upload():
    """A socket that has sent an upload's headers and SENT bytes of a
    multipart body announced as ANNOUNCED bytes, and then stalls."""
    b = "stall"
    head = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"stall.png\"\r\n"
            "Content-Type: application/octet-stream\r\n\r\n" % b).encode()
    body = head + b"\x89PNG\r\n\x1a\n" + b"\0" * (SENT - len(head) - 8)
    req = ("POST /upload HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: multipart/form-data; boundary=%s\r\n"
           "Content-Length: %d\r\n\r\n" % (*_addr(), b, ANNOUNCED)).encode()
    s = socket.create_connection(_addr(), timeout=10)
    s.sendall(req + body)
    return s


def idle_sse():
    s = socket.create_connection(_addr(), timeout=10)
    s.sendall(("GET /events HTTP/1.1\r\nHost: %s:%d\r\nAccept: text/event-stream\r\n\r\n" % _addr()).encode())
    return s


def test_stalled_uploads_and_idle_sse(images):
    before = probe_round()
    assert all(c == 200 for _, c, _ in before), [x for x in before if x[1] != 200][:5]
    base_p95 = p95([ms for _, _, ms in before])

    socks = []
    peak = Peak(("gateway",)).start()
    vm_before = hostile.address_space_mib("gateway")
    try:
        socks += [stalled_upload() for _ in range(STALLED_UPLOADS)]
        socks += [idle_sse() for _ in range(SSE_CLIENTS)]
        during = probe_round()
        gw_mib = peak.growth_mib("gateway")
        vm_mib = hostile.address_space_mib("gateway") - vm_before
        answered = len(select.select(socks[:STALLED_UPLOADS], [], [], 0)[0])
    finally:
        for s in socks:
            s.close()
    during_p95 = p95([ms for _, _, ms in during])
    bound = max(10 * base_p95, P95_FLOOR_MS)
    figure("slow", "stalled_uploads+sse", STALLED_UPLOADS * SENT, "p95", during_p95, gw_mib, None,
           "p95 before %.1f ms, bound %.0f ms, %d uploads x %d B of %d (%d answered early), %d SSE, "
           "address space %+.0f MiB" % (base_p95, bound, STALLED_UPLOADS, SENT, ANNOUNCED, answered, SSE_CLIENTS, vm_mib))

    bad = [x for x in during if x[1] != 200]
    assert not bad, "%d probes did not answer 200: %s" % (len(bad), bad[:5])
    assert during_p95 <= bound, "p95 %.1f ms while clients stall (before: %.1f ms, bound %.0f ms)" % (
        during_p95, base_p95, bound)
    assert gw_mib <= STALL_GROWTH_MIB, \
        "the gateway's peak rose by %.1f MiB while %d uploads stalled (bound %d MiB)" % (
            gw_mib, STALLED_UPLOADS, STALL_GROWTH_MIB)
    assert vm_mib <= STALL_ADDRESS_SPACE_MIB, \
        "the gateway's address space grew by %.0f MiB while %d uploads stalled (bound %d MiB): " \
        "buffers sized from Content-Length?" % (vm_mib, STALLED_UPLOADS, STALL_ADDRESS_SPACE_MIB)
    r = requests.post(GATEWAY + "/upload", files={"file": ("after-stall.png", images["png"])}, timeout=60)
    assert r.status_code == 202, (r.status_code, r.text[:300])


class Uploads:
    """`n` uploads of `data` to the gateway, each in its own thread, each
    recording its status (0: no answer) and how long it took."""

    def __init__(self, data, n=4):
        self.data, self.results = data, []
        self.threads = [threading.Thread(target=self._one, args=(i,), daemon=True) for i in range(n)]

    def _one(self, i):
        t0 = time.monotonic()
        try:
            code = requests.post(GATEWAY + "/upload", files={"file": ("hung-%d.png" % i, self.data)},
                                 timeout=UPLOAD_END_S).status_code
        except requests.RequestException:
            code = 0
        self.results.append((code, (time.monotonic() - t0) * 1000.0))

    def start(self):
        for t in self.threads:
            t.start()

    def join(self, timeout_s):
        end = time.monotonic() + timeout_s
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))
        return not any(t.is_alive() for t in self.threads)


def keepalive_sessions(n=KEEPALIVE_CONNECTIONS):
    """n sessions, each holding one open keep-alive connection to the gateway
    (as nginx keeps its upstream connections): a connection stays with the
    gateway thread that accepted it, so a thread stuck on a hung dependency
    would stall the requests that arrive on its connections."""
    out = []
    for _ in range(n):
        s = requests.Session()
        assert s.get(GATEWAY + "/healthz", timeout=5).status_code == 200
        out.append(s)
    return out


def poll_while_hung(sessions, existing_id, seconds):
    """GET /images and GET /image/{id}/info, alternately, over the keep-alive
    sessions in turn, for `seconds`: [(path, status, ms)]. A request gets 5 s
    before it counts as status 0."""
    out = []
    end = time.monotonic() + seconds
    paths = ("/images?limit=5", "/image/%s/info" % existing_id)
    i = 0
    while time.monotonic() < end:
        for path in paths:
            t0 = time.monotonic()
            try:
                code = sessions[i % len(sessions)].get(GATEWAY + path, timeout=5).status_code
            except requests.RequestException:
                code = 0
            out.append((path, code, (time.monotonic() - t0) * 1000.0))
            i += 1
        time.sleep(0.05)  # pacing, about 20 probes a second
    return out


@pytest.mark.parametrize("component", ["s3", "kafka"])
def test_hung_dependency(images, component):
    existing = gw.upload_ok(images["jpg"], "existing.jpg")["id"]
    assert gw.wait_status(existing)["status"] == "ready"
    pid = hostile.one_pid(component)
    sessions = keepalive_sessions()
    uploads = Uploads(images["png"])
    try:
        os.kill(pid, signal.SIGSTOP)
        uploads.start()
        probes = poll_while_hung(sessions, existing, HUNG_S)
    finally:
        os.kill(pid, signal.SIGCONT)
    ended = uploads.join(UPLOAD_END_S)
    slow = [x for x in probes if x[1] != 200 or x[2] > HUNG_BOUND_MS]
    worst = max(ms for _, _, ms in probes)
    figure("hung", component, len(images["png"]), "max", worst, None, None,
           "%d probes in %.0f s, %d over %d ms or not 200; uploads %s" %
           (len(probes), HUNG_S, len(slow), HUNG_BOUND_MS, [c for c, _ in uploads.results]))

    assert not slow, "%d of %d probes were slow or failed while %s hung: %s" % (
        len(slow), len(probes), component, slow[:5])
    assert ended, "an upload did not end within %.0f s of %s coming back" % (UPLOAD_END_S, component)
    assert all(c in (202, 503) for c, _ in uploads.results), uploads.results

"""GET /events: a client sees pending -> processing -> ready for its upload, in
order; the id filter keeps other images out; heartbeats arrive."""
import json
import socket
import threading
import time
import urllib.parse

from conftest import API, admin_secret, bearer, delete_own, env, new_id, problem, session, get, upload_ok, wait_status


class Stream:
    """Reads an SSE stream in a thread, keeping events and comments. A plain
    HTTP/1.0 socket (no chunking) that close() can shut down at once."""

    def __init__(self, query=""):
        self.events, self.comments = [], []
        u = urllib.parse.urlparse(API + "/events" + query)
        self.sock = socket.create_connection((u.hostname, u.port or 80), timeout=60)
        self.sock.sendall(("GET %s HTTP/1.0\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n"
                           % (u.path + ("?" + u.query if u.query else ""), u.netloc)).encode())
        self.f = self.sock.makefile("rb")
        status = self.f.readline().decode()
        assert " 200 " in status, status
        headers = {}
        while True:
            line = self.f.readline().decode().strip()
            if not line:
                break
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        assert headers["content-type"].startswith("text/event-stream"), headers
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        ev = {}
        try:
            for raw in self.f:
                line = raw.decode().rstrip("\r\n")
                if line == "":
                    if ev.get("event") == "status":
                        self.events.append(json.loads(ev["data"]))
                    ev = {}
                elif line.startswith(":"):
                    self.comments.append(line)
                elif ":" in line:
                    k, v = line.split(":", 1)
                    ev[k] = v.lstrip(" ")
        except Exception:
            pass

    def wait(self, cond, deadline_s=60):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if cond():
                return True
            time.sleep(0.05)
        return False

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


def test_upload_status_order(png):
    s = Stream()
    try:
        assert s.wait(lambda: s.comments, 10), "no connected comment"
        body = upload_ok(png, "sse.png", ops="thumbnail,resized")
        iid = body["id"]
        mine = lambda: [e for e in s.events if e["id"] == iid]
        assert s.wait(lambda: any(e["status"] == "ready" and not e["variant"] for e in mine())
                      or any(e["status"] in ("ready", "failed") for e in mine()), 60), mine()
        statuses = []
        for e in mine():
            if not statuses or statuses[-1] != e["status"]:
                statuses.append(e["status"])
        assert statuses[0] == "pending", statuses
        assert "processing" in statuses, statuses
        assert statuses[-1] == "ready", statuses
        rank = {"pending": 0, "processing": 1, "ready": 2}
        assert [rank[x] for x in statuses] == sorted(rank[x] for x in statuses), statuses
        for e in mine():
            assert e["at"] and set(e) >= {"id", "status", "variant", "variant_status", "at", "error"}
    finally:
        s.close()
    assert delete_own(body).status_code == 204


def test_filter_and_heartbeat(png):
    other = new_id()
    filtered = Stream("?id=%s" % other)
    try:
        body = upload_ok(png, "f.png", ops="thumbnail")
        wait_status(body["id"])
        # The heartbeat comes every 15 s; wait for one beyond the hello.
        assert filtered.wait(lambda: any("heartbeat" in c for c in filtered.comments), 20), filtered.comments
        assert filtered.events == [], filtered.events
    finally:
        filtered.close()
    assert delete_own(body).status_code == 204


def test_many_clients_and_gateway_still_answers():
    """As many streams as nginx lets one client hold (IP_NGINX_EVENTS_CONN)
    are all served; one more from the same client is refused with 429."""
    cap = int(env("IP_NGINX_EVENTS_CONN", "16"))
    streams = [Stream() for _ in range(cap)]
    try:
        # /metrics through nginx needs an admin key.
        m = get("/metrics", headers=bearer(admin_secret())).text
        line = [l for l in m.splitlines() if l.startswith("gw_sse_clients")]
        assert line and float(line[0].split()[-1]) >= cap, line
        r = session.get(API + "/events", stream=True, timeout=10)
        try:
            assert r.status_code == 429, r.status_code
            assert r.headers["Content-Type"].startswith("application/problem+json")
            assert r.headers.get("Retry-After") == "1"
        finally:
            r.close()
    finally:
        for s in streams:
            s.close()
    assert get("/healthz").status_code == 200

"""Idempotent uploads (issue 18), through nginx: `Idempotency-Key` on POST /upload.

The same key with the same bytes within 24 h answers the first response again
(202, the same body: the same id and owner token) with `Idempotent-Replayed:
true`, and stores nothing new; the same key with other bytes is 422 (type
ending idempotency-key-reused) and stores nothing; keys are scoped by the
uploading API key (none: one scope of its own). Each test uploads bytes no
other upload has (random pixels) and a fresh key, so the suite can run
against a stack that already holds images.
"""
import hashlib
import json
import socket
import struct
import threading
import time
import uuid
import zlib

from conftest import (API, bearer, delete, env, get, info, make_key, problem, psql, revoke_key,
                      session, upload)

REUSED = "idempotency-key-reused"


def png_unique(w=16, h=12):
    """A small PNG of random pixels: bytes no other upload has."""
    import os
    raw = b"".join(b"\x00" + os.urandom(w * 3) for _ in range(h))

    def chunk(kind, data):
        c = struct.pack(">I", len(data)) + kind + data
        return c + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)) +
            chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def sha(data):
    return hashlib.sha256(data).hexdigest()


def listed(data):
    """The ids GET /images?sha256= lists for these bytes."""
    r = get("/images?limit=100&sha256=%s" % sha(data))
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert all(i["sha256"] == sha(data) for i in items), items
    return [i["id"] for i in items]


def wait_listed(data, n=1, deadline_s=30):
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        ids = listed(data)
        if len(ids) >= n:
            return ids
        time.sleep(0.05)
    raise AssertionError("no image with sha256 %s listed within %ss" % (sha(data), deadline_s))


def up(data, key=None, auth=None, ops="thumbnail"):
    h = {}
    if key is not None:
        h["Idempotency-Key"] = key
    if auth:
        h.update(bearer(auth))
    return upload(data, "idem.png", ops=ops, headers=h)


def rows_with(data):
    return int(psql("SELECT count(*) FROM images WHERE sha256 = '%s'" % sha(data)))


def multipart(data, key):
    boundary = "idem" + uuid.uuid4().hex
    body = (("--%s\r\nContent-Disposition: form-data; name=\"ops\"\r\n\r\nthumbnail\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"idem.png\"\r\n"
             "Content-Type: image/png\r\n\r\n") % (boundary, boundary)).encode() + data + \
        ("\r\n--%s--\r\n" % boundary).encode()
    host, port = env("IP_HTTP_LISTEN", "127.0.0.1:8080").rsplit(":", 1)
    head = ("POST /api/upload HTTP/1.1\r\nHost: %s\r\nIdempotency-Key: %s\r\n"
            "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n"
            % (host, key, boundary, len(body))).encode()
    return (host, int(port)), head + body


def test_retry_after_dropped_connection():
    data, key = png_unique(), str(uuid.uuid4())
    addr, raw = multipart(data, key)
    s = socket.create_connection(addr, timeout=30)
    try:
        s.sendall(raw)
        # The upload is stored (listed) while its answer was never read.
        first = wait_listed(data)
    finally:
        s.close()  # the answer is lost
    assert len(first) == 1, first
    r = up(data, key)
    assert r.status_code == 202, r.text
    assert r.headers.get("Idempotent-Replayed") == "true", r.headers
    body = r.json()
    assert body["id"] == first[0], (body, first)
    assert body["owner_token"].startswith("ipo_")
    assert r.headers["Location"] == "/api/image/%s/info" % body["id"]
    assert body["links"]["info"] == r.headers["Location"]
    # Again: byte for byte the same answer.
    again = up(data, key)
    assert again.status_code == 202 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.content == r.content
    assert listed(data) == first and rows_with(data) == 1
    # The replayed owner token is the image's: it deletes it.
    assert info(body["id"]).status_code == 200
    d = delete(body["id"], body["owner_token"])
    assert d.status_code in (202, 204), d.text
    problem(info(body["id"]), 404)


def test_first_answer_then_replay_same_body():
    data, key = png_unique(), "order-42/" + uuid.uuid4().hex
    r1 = up(data, key)
    assert r1.status_code == 202, r1.text
    assert "Idempotent-Replayed" not in r1.headers
    r2 = up(data, key)
    assert r2.status_code == 202 and r2.headers.get("Idempotent-Replayed") == "true", r2.headers
    assert r2.content == r1.content and r2.headers["Location"] == r1.headers["Location"]
    assert listed(data) == [r1.json()["id"]]
    # The owner token is stored sealed, never in the clear.
    token = r1.json()["owner_token"]
    dump = psql("SELECT encode(response, 'escape') FROM idempotency_keys WHERE key = '%s'" % key)
    assert dump and token not in dump and r1.json()["id"] not in dump
    delete(r1.json()["id"], token)


def test_same_key_other_bytes_is_422():
    x, y, key = png_unique(), png_unique(), str(uuid.uuid4())
    r = up(x, key)
    assert r.status_code == 202, r.text
    p = problem(up(y, key), 422)
    assert p["type"].endswith(REUSED), p
    assert p.get("param") == "Idempotency-Key" and "24 hours" in p["detail"], p
    assert "owner_token" not in p
    assert listed(y) == [] and rows_with(y) == 0
    # The first upload's key still answers its own bytes.
    again = up(x, key)
    assert again.status_code == 202 and again.json()["id"] == r.json()["id"]
    delete(r.json()["id"], r.json()["owner_token"])


def test_key_is_scoped_by_api_key():
    a, b = make_key("upload"), make_key("upload")
    try:
        data, key = png_unique(), str(uuid.uuid4())
        ra = up(data, key, auth=a["key"])
        assert ra.status_code == 202, ra.text
        # Another API key (another scope), the same Idempotency-Key: a new image.
        rb = up(data, key, auth=b["key"])
        assert rb.status_code == 202, rb.text
        assert "Idempotent-Replayed" not in rb.headers
        assert rb.json()["id"] != ra.json()["id"]
        # Without a key: a scope of its own, a new image too.
        rn = up(data, key)
        assert rn.status_code == 202 and "Idempotent-Replayed" not in rn.headers
        assert rn.json()["id"] not in (ra.json()["id"], rb.json()["id"])
        # Each scope replays its own.
        ra2 = up(data, key, auth=a["key"])
        assert ra2.status_code == 202 and ra2.headers.get("Idempotent-Replayed") == "true"
        assert ra2.json() == ra.json()
        assert sorted(listed(data)) == sorted(r.json()["id"] for r in (ra, rb, rn))
        for r in (ra, rb, rn):
            delete(r.json()["id"], r.json()["owner_token"])
    finally:
        revoke_key(a["id"])
        revoke_key(b["id"])


def test_concurrent_identical_requests_make_one_image():
    data, key = png_unique(), str(uuid.uuid4())
    n = 6
    answers = [None] * n
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        answers[i] = up(data, key)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(a is not None and a.status_code == 202 for a in answers), \
        [(a.status_code, a.text[:200]) for a in answers if a is not None]
    bodies = [a.json() for a in answers]
    assert len({b["id"] for b in bodies}) == 1, bodies
    assert len({b["owner_token"] for b in bodies}) == 1
    fresh = [a for a in answers if a.headers.get("Idempotent-Replayed") != "true"]
    assert len(fresh) == 1, [a.headers for a in answers]
    assert listed(data) == [bodies[0]["id"]] and rows_with(data) == 1
    delete(bodies[0]["id"], bodies[0]["owner_token"])


def test_bad_header_is_400():
    data = png_unique()
    for bad in ("has space", "k" * 256, "tab\tinside", "caf\u00e9"):
        p = problem(up(data, bad), 400)
        assert p.get("param") == "Idempotency-Key", (bad, p)
    assert listed(data) == []
    # The longest allowed key works.
    r = up(data, "k" * 255)
    assert r.status_code == 202, r.text
    delete(r.json()["id"], r.json()["owner_token"])

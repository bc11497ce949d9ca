"""At least 30 bad uploads: each gets its documented status (problem+json),
nothing is stored (no row in PostgreSQL, no object in the bucket) and the
gateway keeps answering."""
import struct
import zlib

import pytest

from conftest import API, UPLOAD_MAX, Snapshot, delete, gateway_alive, info, psql, session

B = "XyZzy"
MP = "multipart/form-data; boundary=" + B


_MARK = [""]  # the current Snapshot's marker, put in every filename


def part(name, data, filename=None, extra=b""):
    disp = 'form-data; name="%s"' % name
    if filename is not None:
        disp += '; filename="%s%s"' % (_MARK[0], filename)
    head = ("--%s\r\nContent-Disposition: %s\r\n" % (B, disp)).encode() + extra + b"\r\n"
    return head + data + b"\r\n"


def end():
    return ("--%s--\r\n" % B).encode()


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def pixel_bomb():
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + png_chunk(b"IEND", b""))


def raw(body, ctype, qs=""):
    h = {"Content-Type": ctype} if ctype is not None else {}
    return session.post(API + "/upload" + qs, data=body, headers=h, timeout=120)


def mp(body, qs=""):
    return raw(body, MP, qs)


def gen_big(n, chunk=1 << 20):
    sent = 0
    while sent < n:
        k = min(chunk, n - sent)
        yield b"\0" * k
        sent += k


SVG = b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
HTML = b"<!DOCTYPE html><html><body>hi</body></html>"


def cases(png):
    good = part("file", png, "a.png")
    return [
        ("empty body, no type", lambda: raw(b"", None), 400),
        ("empty multipart body", lambda: mp(b""), 400),
        ("truncated multipart", lambda: mp(part("file", png, "a.png")[:-10]), 400),
        ("no closing boundary", lambda: mp(good), 400),
        ("missing boundary", lambda: raw(good + end(), "multipart/form-data"), 400),
        ("empty boundary", lambda: raw(good + end(), "multipart/form-data; boundary="), 400),
        ("wrong boundary", lambda: raw(good + end(), "multipart/form-data; boundary=other"), 400),
        ("two file parts", lambda: mp(good + part("file", png, "b.png") + end()), 400),
        ("no file part", lambda: mp(part("ops", b"thumbnail") + end()), 400),
        ("zero-byte file", lambda: mp(part("file", b"", "empty.png") + end()), 400),
        ("zero-byte raw body", lambda: raw(b"", "image/png"), 400),
        ("bad ops field", lambda: mp(part("ops", b"thumbnail,blur") + good + end()), 400),
        ("empty ops field", lambda: mp(part("ops", b"") + good + end()), 400),
        ("bad ops query", lambda: mp(good + end(), "?ops=thumbnail,,resized"), 400),
        ("too many parts", lambda: mp(b"".join(part("x%d" % i, b"1") for i in range(12)) + good + end()), 400),
        ("part headers too large", lambda: mp(part("file", png, "a.png", b"X-Big: " + b"h" * 20000 + b"\r\n") + end()), 400),
        ("not form-data", lambda: mp(good.replace(b"form-data;", b"attachment;") + end()), 400),
        ("header line without colon", lambda: mp(part("file", png, "a.png", b"garbage line\r\n") + end()), 400),
        ("part without name", lambda: mp(good.replace(b'name="file"; ', b"") + end()), 400),
        ("non-image sent as image/jpeg", lambda: mp(part("file", b"just some text, honest", "a.jpg", b"Content-Type: image/jpeg\r\n") + end()), 415),
        ("raw text as image/jpeg", lambda: raw(b"hello world" * 10, "image/jpeg"), 415),
        ("SVG", lambda: mp(part("file", SVG, "a.svg") + end()), 415),
        ("SVG raw as image/svg+xml", lambda: raw(SVG, "image/svg+xml"), 415),
        ("HTML", lambda: mp(part("file", HTML, "a.html") + end()), 415),
        ("PDF", lambda: mp(part("file", b"%PDF-1.4\n%\xe2\xe3\n1 0 obj", "a.pdf") + end()), 415),
        ("WAV in RIFF", lambda: mp(part("file", b"RIFF\x24\0\0\0WAVEfmt " + b"\0" * 40, "a.webp") + end()), 415),
        ("MP4 ftyp", lambda: mp(part("file", b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom" + b"\0" * 40, "a.heic") + end()), 415),
        ("text/plain body", lambda: raw(b"hello", "text/plain"), 415),
        ("application/json body", lambda: raw(b"{}", "application/json"), 415),
        ("multipart/mixed", lambda: raw(good + end(), "multipart/mixed; boundary=" + B), 415),
        ("pixel bomb", lambda: mp(part("file", pixel_bomb(), "bomb.png") + end()), 422),
        ("unreadable JPEG header", lambda: mp(part("file", b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + b"\x13" * 50, "a.jpg") + end()), 422),
        ("GIF signature only", lambda: mp(part("file", b"GIF89a" + b"\xff" * 3, "a.gif") + end()), 422),
        ("60 MiB with Content-Length", lambda: raw(b"\0" * (60 << 20), "image/png"), 413),
        ("60 MiB chunked", lambda: raw(gen_big(60 << 20), "image/png"), 413),
        ("file one byte over the limit", lambda: mp(part("file", b"\x89PNG" + b"\0" * (UPLOAD_MAX - 3), "big.png") + end()), 413),
    ]


def test_at_least_30_cases(png):
    assert len(cases(png)) >= 30


@pytest.mark.parametrize("idx", range(36))
def test_bad_upload(png, idx):
    snap = Snapshot()
    _MARK[0] = snap.marker
    name, call, status = cases(png)[idx]
    r = call()
    assert r.status_code == status, (name, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/problem+json"), (name, r.headers)
    assert r.json()["detail"], name
    snap.assert_unchanged()
    gateway_alive()


def test_enormous_header_refused():
    snap = Snapshot()
    r = session.post(API + "/upload", data=b"x", headers={"Content-Type": "image/png", "X-Huge": "a" * 100000}, timeout=30)
    assert r.status_code in (400, 431), r.status_code
    snap.assert_unchanged()
    gateway_alive()


@pytest.mark.parametrize("fname,shown", [
    (b"../../etc/passwd.png", "passwd.png"),
    (b"..\\..\\win.png", "win.png"),
    (b"bad\xff\xfeutf8.png", "bad\ufffd\ufffdutf8.png"),
    (b"..", "upload"),
])
def test_hostile_filenames_are_sanitised(png, fname, shown):
    body = ("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" % B).encode() + fname + b"\"\r\n\r\n" + png + b"\r\n" + end()
    r = mp(body, "?ops=thumbnail")
    assert r.status_code == 202, r.text
    iid, token = r.json()["id"], r.json()["owner_token"]
    got = info(iid).json()
    assert got["filename"] == shown
    assert psql("select filename from images where id = '%s'" % iid) == shown
    assert delete(iid, token).status_code == 204


def test_too_large_content_length_refused_before_the_body():
    """A Content-Length over the limit is answered 413 right after the headers:
    the client has sent no body byte and gets the answer anyway."""
    import socket
    import time
    import urllib.parse
    u = urllib.parse.urlparse(API)
    s = socket.create_connection((u.hostname, u.port or 80), timeout=10)
    try:
        n = UPLOAD_MAX + 200000  # over the gateway's limit, under nginx's
        s.sendall(("POST %s/upload HTTP/1.1\r\nHost: %s\r\nContent-Type: image/png\r\n"
                   "Content-Length: %d\r\n\r\n" % (u.path, u.netloc, n)).encode())
        t0 = time.monotonic()
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            assert chunk, "connection closed without an answer"
            data += chunk
        assert data.startswith(b"HTTP/1.1 413"), data[:200]
        assert b"application/problem+json" in data.split(b"\r\n\r\n")[0].lower()
        assert time.monotonic() - t0 < 5
    finally:
        s.close()
    gateway_alive()

"""What /webhooks refuses, through nginx: 401 without a key (and for an
owner token, 403), 400 for a url that is not http(s) (param url), a bad
field or an unknown one (param names it), a body that is not a JSON object;
415 for another Content-Type; 413 over 16 KiB; 403 for an upload-only key
subscribing to every image; 404 for another key's subscription and its
deliveries (not 403: ids of others are not confirmed), for an unknown id,
and after DELETE; 400 for an id that is not a UUID and for a bad cursor. An
admin key sees and manages every subscription. The secret is only in the
201."""
import uuid

import requests

from conftest import _made as made
from conftest import gw, subscribe, upload_as

HOOK = "http://127.0.0.1:9/hook"  # never called: no image event happens to these


def post(key, body=None, **kw):
    headers = dict(gw.bearer(key["key"])) if key else {}
    headers.update(kw.pop("headers", {}))
    r = gw.session.post(gw.API + "/webhooks", json=body, headers=headers, timeout=30, **kw)
    if r.status_code == 201:
        made.append(r.json()["id"])  # deleted after the test
    return r


def test_no_key():
    r = post(None, {"url": HOOK})
    gw.problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    gw.problem(gw.get("/webhooks"), 401)
    gw.problem(gw.get("/webhooks/%s" % uuid.uuid4()), 401)
    owner = upload_as(None)["owner_token"]
    gw.problem(gw.get("/webhooks", headers=gw.bearer(owner)), 403)


def test_bad_bodies():
    key = gw.make_key("read")
    cases = [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "http://user:pw@example.com/hook"}, "url"),
        ({"url": "https://example.com/hook#frag"}, "url"),
        ({"url": "http:///nohost"}, "url"),
        ({"url": "https://example.com/" + "a" * 2100}, "url"),
        ({}, "url"),
        ({"url": 5}, "url"),
        ({"url": HOOK, "events": []}, "events"),
        ({"url": HOOK, "events": ["image.created"]}, "events"),
        ({"url": HOOK, "events": ["image.ready", "image.ready"]}, "events"),
        ({"url": HOOK, "events": "image.ready"}, "events"),
        ({"url": HOOK, "images": "mine"}, "images"),
        ({"url": HOOK, "description": "x" * 201}, "description"),
        ({"url": HOOK, "secret": "not-a-secret"}, "secret"),
        ({"url": HOOK, "secret": "whsec_c2hvcnQ="}, "secret"),
        ({"url": HOOK, "colour": "blue"}, "colour"),
    ]
    for body, param in cases:
        b = gw.problem(post(key, body), 400)
        assert b.get("param") == param, (body, b)
    for raw in (b"[1,2]", b"{", b"", b'"url"', b'{"url": "%s", "url": "%s"}' % (HOOK.encode(), HOOK.encode())):
        gw.problem(post(key, data=raw, headers={"Content-Type": "application/json"}), 400)
    r = post(key, data=b'{"url": "%s"}' % HOOK.encode(), headers={"Content-Type": "text/plain"})
    gw.problem(r, 415)
    r = post(key, data=b'{"url": "%s", "description": "%s"}' % (HOOK.encode(), b"x" * 17000),
             headers={"Content-Type": "application/json"})
    gw.problem(r, 413)


def test_scopes_and_ownership():
    upload_only = gw.make_key("upload")
    reader = gw.make_key("read")
    other = gw.make_key("read")
    admin = {"key": gw.admin_secret()}

    b = gw.problem(post(upload_only, {"url": HOOK}), 403)
    assert "read" in b["detail"]
    own = subscribe(upload_only, HOOK, images="own")  # its own images: any key
    assert own["images"] == "own"

    sub = subscribe(reader, HOOK, description="mine")
    assert sub["secret"].startswith("whsec_") and sub["description"] == "mine"
    assert sub["events"] == ["image.ready", "image.failed", "image.deleted"]
    r = gw.get("/webhooks/%s" % sub["id"], headers=gw.bearer(reader["key"]))
    assert r.status_code == 200 and "secret" not in r.json() and r.json()["url"] == HOOK
    listed = gw.get("/webhooks", headers=gw.bearer(reader["key"])).json()["items"]
    assert [s["id"] for s in listed] == [sub["id"]] and "secret" not in listed[0]

    # Another key: 404 for the subscription, its log and a resend; not in its list.
    for path in ("/webhooks/%s", "/webhooks/%s/deliveries"):
        gw.problem(gw.get(path % sub["id"], headers=gw.bearer(other["key"])), 404)
    r = gw.session.post(gw.API + "/webhooks/%s/deliveries/msg_%s/resend" % (sub["id"], "0" * 32),
                        headers=gw.bearer(other["key"]), timeout=30)
    gw.problem(r, 404)
    r = gw.session.delete(gw.API + "/webhooks/%s" % sub["id"], headers=gw.bearer(other["key"]),
                          timeout=30)
    gw.problem(r, 404)
    assert gw.get("/webhooks", headers=gw.bearer(other["key"])).json()["items"] == []
    # An admin key sees every one.
    everyone = gw.get("/webhooks", headers=gw.bearer(admin["key"])).json()["items"]
    assert {sub["id"], own["id"]} <= {s["id"] for s in everyone}
    assert gw.get("/webhooks/%s" % sub["id"], headers=gw.bearer(admin["key"])).status_code == 200

    # Ids and cursors.
    gw.problem(gw.get("/webhooks/not-a-uuid", headers=gw.bearer(reader["key"])), 400)
    gw.problem(gw.get("/webhooks/%s" % uuid.uuid4(), headers=gw.bearer(reader["key"])), 404)
    log = "/webhooks/%s/deliveries" % sub["id"]
    for params in ({"limit": "0"}, {"limit": "101"}, {"limit": "x"}, {"before_id": "msg_" + "0" * 32},
                   {"before_created_at": "yesterday", "before_id": "msg_" + "0" * 32},
                   {"sort": "asc"}):
        gw.problem(gw.get(log, params=params, headers=gw.bearer(reader["key"])), 400)
    r = gw.get(log, headers=gw.bearer(reader["key"]))
    assert r.status_code == 200 and r.json() == {"items": [], "next": None}

    # DELETE: 204, then 404 everywhere.
    r = gw.session.delete(gw.API + "/webhooks/%s" % sub["id"], headers=gw.bearer(reader["key"]),
                          timeout=30)
    assert r.status_code == 204 and r.content == b""
    for path in ("/webhooks/%s", "/webhooks/%s/deliveries"):
        gw.problem(gw.get(path % sub["id"], headers=gw.bearer(reader["key"])), 404)
    r = gw.session.delete(gw.API + "/webhooks/%s" % sub["id"], headers=gw.bearer(reader["key"]),
                          timeout=30)
    gw.problem(r, 404)
    # The admin key manages another key's subscription.
    r = gw.session.delete(gw.API + "/webhooks/%s" % own["id"], headers=gw.bearer(admin["key"]),
                          timeout=30)
    assert r.status_code == 204


def test_location_and_given_secret():
    key = gw.make_key("read")
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    r = post(key, {"url": HOOK, "secret": secret, "events": ["image.deleted", "image.ready"]})
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["secret"] == secret
    assert body["events"] == ["image.ready", "image.deleted"], "canonical order"
    assert r.headers["Location"] == "/api/webhooks/%s" % body["id"]
    assert set(body) == {"id", "url", "events", "images", "description", "created_at", "secret"}
    assert requests.get(gw.API.rsplit("/api", 1)[0] + r.headers["Location"],
                        headers=gw.bearer(key["key"]), timeout=30).status_code == 200

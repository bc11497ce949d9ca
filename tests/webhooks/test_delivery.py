"""A delivery end to end: a subscription made with an API key, an upload
with that key, and the receiver getting image.ready — signed as Standard
Webhooks says (checked here with Python's hmac over the bytes received, as
the README shows), with the body's fields and the delivery log saying
delivered after one attempt with the receiver's 204."""
import base64
import json
import re
import threading
import time
import urllib.error
import urllib.request

from conftest import (gw, deliveries, free_port, readme_receiver, subscribe, upload_ready,
                      verify_signature, wait_delivery)

MSG_ID = re.compile(r"^msg_[0-9a-f]{32}$")
RFC3339_US = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def test_ready_is_delivered_and_signed(receiver):
    key = gw.make_key("read,upload")
    sub = subscribe(key, receiver.url(), events=["image.ready"], description="delivery test")
    assert sub["secret"].startswith("whsec_")
    assert sub["events"] == ["image.ready"] and sub["images"] == "all"
    image_id = upload_ready(key)

    got = receiver.wait(1, event="image.ready", image_id=image_id)
    assert len(got) == 1, "one attempt, one request"
    req = got[0]
    h = req["headers"]
    assert h["content-type"].startswith("application/json")
    assert h["user-agent"] == "ImageProcessor-Webhooks/1"
    assert MSG_ID.match(h["webhook-id"]), h["webhook-id"]
    assert abs(int(h["webhook-timestamp"]) - req["at"]) < 60
    assert verify_signature(sub["secret"], h, req["body"])
    # A tampered body or another secret does not verify.
    assert not verify_signature(sub["secret"], h, req["body"] + b" ")
    other = subscribe(key, receiver.url("/other"), events=["image.failed"])
    assert not verify_signature(other["secret"], h, req["body"])

    body = json.loads(req["body"])
    assert body["type"] == "image.ready"
    assert RFC3339_US.match(body["timestamp"]), body
    data = body["data"]
    info = gw.info(image_id).json()
    assert data["id"] == image_id and data["status"] == "ready" and data["error"] == ""
    assert data["filename"] == "hook.png" and data["content_type"] == "image/png"
    assert data["size"] == info["size"]
    assert re.match(r"^[0-9a-f]{64}$", data["sha256"])
    assert RFC3339_US.match(data["created_at"]) and data["created_at"] == info["created_at"]

    d = wait_delivery(key, sub["id"], image_id, "image.ready", lambda d: d["state"] == "delivered",
                      "the log says delivered")
    assert d["id"] == h["webhook-id"]
    assert d["attempts"] == 1 and d["last_status"] == 204 and d["last_error"] == ""
    assert d["next_attempt_at"] is None and d["delivered_at"] and d["last_attempt_at"]
    assert isinstance(d["last_duration_ms"], int)
    # The receiver's one request is the only one: nothing is sent twice.
    assert len(receiver.received(image_id=image_id)) == 1
    assert [x["id"] for x in deliveries(key, sub["id"])] == [d["id"]]


def test_verify_matches_the_standard_webhooks_vector():
    """The README's verify (conftest.verify_signature) against the Standard
    Webhooks reference vector (also checked in C by common/ip_webhook_test.c),
    and refusing it as too old with the usual tolerance."""
    h = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
         "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
    secret, body = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", b'{"test": 2432232314}'
    assert verify_signature(secret, h, body, tolerance_s=10 ** 10)
    assert not verify_signature(secret, h, body + b" ", tolerance_s=10 ** 10)
    assert not verify_signature(secret, h, body), "a timestamp from 2021 is a replay"


def test_readme_receiver_accepts_a_delivery():
    """The README's receiver example, run as written (conftest.readme_receiver)
    with a subscription's secret on a loopback port: a real delivery gets its
    204 (the delivery log says so), and a request with a forged signature its
    401."""
    ns = readme_receiver()
    port = free_port()
    server = ns["HTTPServer"](("127.0.0.1", port), ns["Hook"])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        key = gw.make_key("read,upload")
        sub = subscribe(key, "http://127.0.0.1:%d/hook" % port, events=["image.ready"])
        ns["SECRET"] = sub["secret"]
        image_id = upload_ready(key)
        d = wait_delivery(key, sub["id"], image_id, "image.ready",
                          lambda d: d["state"] == "delivered", "the README's receiver took it")
        assert d["attempts"] == 1 and d["last_status"] == 204

        forged = urllib.request.Request(
            "http://127.0.0.1:%d/hook" % port, data=b'{"type":"image.ready"}', method="POST",
            headers={"webhook-id": d["id"], "webhook-timestamp": str(int(time.time())),
                     "webhook-signature": "v1," + base64.b64encode(b"\0" * 32).decode(),
                     "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(forged, timeout=10)
            raise AssertionError("the README's receiver accepted a forged signature")
        except urllib.error.HTTPError as e:
            assert e.code == 401
    finally:
        server.shutdown()
        server.server_close()

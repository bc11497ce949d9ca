"""Resending a delivered delivery: 202 with the delivery (pending again);
the receiver gets the same webhook-id and the same body bytes again, with a
timestamp of the new attempt and a signature that verifies; the log ends
delivered with one more attempt. A delivery id of another form is 400, one
the subscription does not have 404."""
import time

from conftest import ATTEMPT_S, gw, subscribe, upload_ready, verify_signature, wait_delivery


def test_resend_sends_the_same_webhook(receiver):
    key = gw.make_key("read,upload")
    sub = subscribe(key, receiver.url(), events=["image.ready"])
    image_id = upload_ready(key)
    first = receiver.wait(1, deadline_s=10 * ATTEMPT_S, image_id=image_id)[0]
    d = wait_delivery(key, sub["id"], image_id, "image.ready", lambda d: d["state"] == "delivered",
                      "delivered")
    time.sleep(1.1)  # so the resend's webhook-timestamp (whole seconds) is a later second
    url = "/webhooks/%s/deliveries/%s/resend" % (sub["id"], d["id"])
    r = gw.session.post(gw.API + url, headers=gw.bearer(key["key"]), timeout=30)
    assert r.status_code == 202, r.text
    assert r.json()["id"] == d["id"] and r.json()["state"] in ("pending", "delivered")

    again = receiver.wait(2, deadline_s=10 * ATTEMPT_S, image_id=image_id)[1]
    assert again["headers"]["webhook-id"] == first["headers"]["webhook-id"] == d["id"]
    assert again["body"] == first["body"]
    assert int(again["headers"]["webhook-timestamp"]) > int(first["headers"]["webhook-timestamp"])
    assert verify_signature(sub["secret"], again["headers"], again["body"])
    done = wait_delivery(key, sub["id"], image_id, "image.ready",
                         lambda x: x["state"] == "delivered" and x["attempts"] == d["attempts"] + 1,
                         "delivered again")
    assert done["last_status"] == 204

    base = "/webhooks/%s/deliveries/" % sub["id"]
    for bad in ("msg_xyz", "123", "msg_" + "0" * 31):
        body = gw.problem(gw.session.post(gw.API + base + bad + "/resend",
                                          headers=gw.bearer(key["key"]), timeout=30), 400)
        assert body.get("param") == "delivery_id", body
    gw.problem(gw.session.post(gw.API + base + "msg_" + "0" * 32 + "/resend",
                               headers=gw.bearer(key["key"]), timeout=30), 404)

"""A subscription deleted while its delivery is being retried: the receiver
answers 500 every time; once the log shows two attempts the subscription is
deleted (204). From then on the receiver gets nothing more, and the delivery
is cancelled (the log stays readable with imgctl; over the API the deleted
subscription and its log are 404).

The negative is a bounded wait: NEGATIVE_S, several times the longest retry
interval (IP_WEBHOOK_RETRY_MAX_MS) plus the poll interval and one timeout,
which is more than any retry of a live delivery would have waited. An attempt
already on the wire when the DELETE committed cannot be called back: at most
one request that arrives within IN_FLIGHT_S of the DELETE's answer is allowed
(the receiver answers at once, so such a request is there within
milliseconds); nothing may arrive after that."""
import time

from conftest import ATTEMPT_S, POLL_S, RETRY_MAX_S, TIMEOUT_S, gw, subscribe, unsubscribe, \
    upload_ready, wait_delivery

NEGATIVE_S = 3 * RETRY_MAX_S + POLL_S + TIMEOUT_S
IN_FLIGHT_S = 0.5


def test_delete_cancels_pending(receiver):
    receiver.default = 500
    key = gw.make_key("read,upload")
    sub = subscribe(key, receiver.url(), events=["image.ready"])
    image_id = upload_ready(key)
    wait_delivery(key, sub["id"], image_id, "image.ready", lambda d: d["attempts"] >= 2,
                  "two attempts", deadline_s=10 * ATTEMPT_S)
    unsubscribe(key, sub["id"])
    deleted_at = time.time()
    n_at_delete = len(receiver.received())

    time.sleep(NEGATIVE_S)  # the bounded negative wait (see the docstring)
    late = [r for r in receiver.received()[n_at_delete:]]
    assert len(late) <= 1 and all(r["at"] - deleted_at < IN_FLIGHT_S for r in late), \
        "requests after the DELETE: %s" % [round(r["at"] - deleted_at, 3) for r in late]

    log = gw.imgctl("webhooks", "deliveries", sub["id"])
    log = log if isinstance(log, list) else [log]
    mine = [d for d in log if d["image_id"] == image_id]
    assert len(mine) == 1 and mine[0]["state"] == "cancelled", log
    assert mine[0]["attempts"] >= 2 and mine[0]["next_attempt_at"] is None
    # Over the API the subscription is gone, and so is its log.
    for path in ("/webhooks/%s", "/webhooks/%s/deliveries"):
        gw.problem(gw.get(path % sub["id"], headers=gw.bearer(key["key"])), 404)
    r = gw.session.delete(gw.API + "/webhooks/%s" % sub["id"], headers=gw.bearer(key["key"]),
                          timeout=30)
    gw.problem(r, 404)

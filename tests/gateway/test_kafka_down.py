"""Kafka stopped: uploads answer 503 and leave nothing behind; readyz says
not ready; after Kafka starts again uploads are accepted and processed."""
import time

from conftest import Snapshot, delete_own, get, problem, stack, upload, wait_status


def test_kafka_stopped_then_recovered(png):
    stack("stop", "kafka")
    try:
        snap = Snapshot()
        t0 = time.monotonic()
        r = upload(png, snap.marker + ".png", ops="thumbnail")
        problem(r, 503)
        assert "queue" in r.json()["detail"]
        assert time.monotonic() - t0 < 30
        snap.assert_unchanged()
        problem(get("/readyz"), 503)
        assert get("/healthz").status_code == 200
    finally:
        stack("start", "kafka")
    end = time.monotonic() + 120
    while True:
        r = upload(png, "k2.png", ops="thumbnail")
        if r.status_code == 202:
            break
        assert r.status_code == 503, r.text
        assert time.monotonic() < end, "uploads did not recover after Kafka came back"
        time.sleep(0.5)
    done = wait_status(r.json()["id"], deadline_s=120)
    assert done["status"] == "ready"
    assert get("/readyz").status_code == 200
    assert delete_own(r.json()).status_code == 204

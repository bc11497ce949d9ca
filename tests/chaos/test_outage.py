"""chaos.outage_<dependency>: one dependency of the processing path down for a
long while (IP_CHAOS_OUTAGE_MS, 60 s) with accepted work waiting on it.

The processors are paused (SIGSTOP) while a batch is uploaded, so its jobs
are still to do; the dependency is killed and the processors resume, so the
batch meets the outage. Uploads go on at a slow pace all along (a 503 while
a dependency the gateway needs is down is a refusal, counted, not a
failure). The dependency comes back, and then every accepted upload, the
batch and any accepted during the outage, ends ready, no row stays pending
or processing, and nothing is left in the bucket without its row.
"""
import time

import pytest
import requests

import chaos

BATCH = 8


@pytest.mark.parametrize("dep", ["storage-svc", "metadata-svc", "s3", "kafka"])
def test_outage(dep, images):
    since_ms = int(time.time() * 1000) - 1000
    batch = []
    chaos.pause_processors()
    try:
        s = requests.Session()
        for k in range(BATCH):
            name, data = images[k % len(images)]
            r = s.post(chaos.API + "/upload", files={"file": (name, data, "application/octet-stream")}, timeout=60)
            assert r.status_code == 202, r.text
            batch.append(r.json()["id"])
        t_down = time.monotonic()
        chaos.stack("kill", dep)
    finally:
        chaos.resume_processors()
    load = chaos.Load(images, rate=1.0, workers=4).start()
    try:
        time.sleep(chaos.OUTAGE_S / 2)  # the outage itself
        health = chaos.processor_health()
        chaos.say("processor during the %s outage: %s" % (dep, health))
        time.sleep(max(0.0, t_down + chaos.OUTAGE_S - time.monotonic()))
        down_s = time.monotonic() - t_down
        chaos.stack("start", dep)
        t_up = time.monotonic()
        # A few uploads once it is back.
        while time.monotonic() < t_up + 3:
            time.sleep(0.5)
    finally:
        load.stop()

    during = load.accepted()
    ids = batch + during
    t_wait = time.monotonic()
    outcome, took, not_ready, busy = chaos.wait_drained(ids, since_ms)
    no_row, no_original = chaos.wait_no_orphans(since_ms)
    fig = chaos.figures(
        "chaos.outage_%s" % dep, down_s=round(down_s, 1), waiting=len(batch), accepted=len(ids),
        refused=load.count(503), other=len(load.unexpected()), **chaos.status_figures(ids), stuck=len(busy),
        orphans=chaos.image_count(no_row) + len(no_original), **chaos.drain_figures(outcome, took, t_up, t_wait))

    problems = chaos.Problems()
    problems.check(not load.unexpected(), "answers other than 202/503: %s" % [
        "%s %s" % (u.code, u.err) for u in load.unexpected()[:8]])
    problems.not_ready(not_ready, "after %s came back" % dep)
    problems.busy(busy)
    problems.orphans(no_row, no_original)
    problems.done(fig)

"""chaos.kill_each: every part crashes once under a steady stream of uploads.

At least IP_CHAOS_UPLOADS (300) uploads at concurrency 4, spread over the
run, while processor, storage-svc, metadata-svc, gateway, the S3 server,
Kafka and PostgreSQL are each killed with SIGKILL, left down for
IP_CHAOS_DOWN_MS (3 s) and started again, one after the other; meanwhile
some ready images are deleted. Then, once everything has drained: every 202
ended ready; no row is pending or processing; every deleted image is 404 in
the API, gone from the bucket and 404 under /media/; no object is without
its row and no row without its original. A 503 while a part is down is a
refusal, counted, not a failure.
"""
import time

import chaos

ORDER = ("processor", "storage-svc", "metadata-svc", "gateway", "s3", "kafka", "postgres")
GAP_S = 4  # the stack runs whole this long between two kills


def test_kill_each(images):
    since_ms = int(time.time() * 1000) - 1000
    # A rate that spreads the uploads over the schedule (GAP_S, the downtime
    # and a restart per part; Kafka takes longer, which adds some).
    est_s = len(ORDER) * (GAP_S + chaos.DOWN_S + 1) + GAP_S
    load = chaos.Load(images, rate=max(1.0, chaos.UPLOADS / est_s), workers=4).start()
    deleter = chaos.Deleter(load, every_s=3.0, limit=25)
    downs = []
    try:
        time.sleep(GAP_S)
        deleter.start()
        for comp in ORDER:
            t0 = time.monotonic()
            chaos.stack("kill", comp)
            time.sleep(chaos.DOWN_S)  # the outage itself
            chaos.stack("start", comp)
            downs.append({"part": comp, "down_s": round(time.monotonic() - t0, 1)})
            time.sleep(GAP_S)
        t_recovered = time.monotonic()
        # Keep uploading until there were enough (bounded).
        end = time.monotonic() + 120
        while len(load.snapshot()) < chaos.UPLOADS and time.monotonic() < end:
            time.sleep(0.5)
    finally:
        load.stop()
        deleter.stop()

    accepted = load.accepted()
    deleted = set(deleter.deleted)
    kept = [i for i in accepted if i not in deleted]
    t_wait = time.monotonic()
    outcome, took, not_ready, busy = chaos.wait_drained(kept, since_ms)
    gone_problems = deleter.check_gone()
    no_row, no_original = chaos.wait_no_orphans(since_ms)
    fig = chaos.figures(
        "chaos.kill_each",
        uploads=len(load.snapshot()), accepted=len(accepted), refused=load.count(503),
        other=len(load.unexpected()), **chaos.status_figures(kept), stuck=len(busy), deleted=len(deleted), delete_answers=deleter.codes,
        deleted_not_gone=chaos.image_count(gone_problems),
        orphans=chaos.image_count(no_row) + len(no_original),
        **chaos.drain_figures(outcome, took, t_recovered, t_wait), downs=downs)

    problems = chaos.Problems()
    problems.check(len(load.snapshot()) >= chaos.UPLOADS, "only %d uploads" % len(load.snapshot()))
    problems.check(not load.unexpected(), "answers other than 202/503: %s" % [
        "%s %s" % (u.code, u.err) for u in load.unexpected()[:8]])
    problems.check(len(deleted) >= 5, "too few ready images were deleted: %s" % deleter.codes)
    problems.not_ready(not_ready)
    problems.busy(busy)
    problems.check(not gone_problems, "deleted images not gone: %d, e.g. %s" % (
        chaos.image_count(gone_problems), gone_problems[:8]))
    problems.orphans(no_row, no_original)
    problems.done(fig)

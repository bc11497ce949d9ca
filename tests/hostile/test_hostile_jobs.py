"""The processor's own admission check: a job whose original is hostile fails
at once with the reason, cheaply, and the processor goes on.

The gateway never lets such a file in, so the test puts it there the way a
stale or tampered object would be: a small valid image is uploaded and ends
ready, then its original `o/<id>` is overwritten in the bucket (a signed
PutObject) with a file of the corpus. The job comes from the operator's tool:
`imgctl retry <id>` (RetryImage, a fresh ProcessJob on the queue,
MarkEnqueued). imgctl retries failed images only, and a processor skips the
job of a ready image, so the row is first set failed in PostgreSQL, as a
processor that had failed it would have left it.

Asserted: the image ends `failed` within JOB_DEADLINE_S of the retry (the
time in the figures) with an error that names the cause, the processor's
peak memory rose by at most PROCESSOR_BOUND_MIB (a 1 x 1 PNG of zTXt bombs
once took it to 1.6 GB and ended ready), the same processor is still
running and answers /healthz, and the next normal upload ends ready.
"""
import time

import pytest
import requests

import corpus
import hostile
from hostile import Peak, figure, gw, names_cause

JOB_DEADLINE_S = 15
PROCESSOR_BOUND_MIB = 128
PNG_SIG = b"\x89PNG\r\n\x1a\n"


def _is_ztxt_bomb(c):
    return c.data.startswith(PNG_SIG) and b"zTXt" in c.data and c.reason == "metadata_too_large"


def _is_many_scans(c):
    return c.data.startswith(b"\xff\xd8") and c.reason == "too_many_scans"


def _is_isom_mif1(c):
    return c.data[4:12] == b"ftypisom" and c.reason == "bad_brand"


def _is_huge_icc(c):
    return c.data.startswith(b"\xff\xd8") and b"ICC_PROFILE" in c.data and c.reason == "metadata_too_large"


REPRESENTATIVES = {"ztxt_bomb": _is_ztxt_bomb, "many_scans": _is_many_scans,
                   "isom_mif1": _is_isom_mif1, "huge_icc": _is_huge_icc}


CASES = corpus.cases()


def representative(kind):
    found = [c for c in CASES if REPRESENTATIVES[kind](c)]
    assert found, "the corpus has no %s case" % kind
    return found[0]


def final_state(image_id, deadline_s):
    """The image's info once it is ready or failed, else the last one seen
    when deadline_s ran out."""
    try:
        return gw.wait_status(image_id, want=("ready", "failed"), deadline_s=deadline_s)
    except AssertionError:
        r = gw.info(image_id)
        return r.json() if r.status_code == 200 else {"status": "http %d" % r.status_code}


def processor_healthz():
    r = requests.get("http://%s/healthz" % gw.env("IP_PROCESSOR_METRICS_LISTEN", "127.0.0.1:9103"), timeout=5)
    assert r.status_code == 200, (r.status_code, r.text[:200])


@pytest.mark.parametrize("kind", sorted(REPRESENTATIVES))
def test_hostile_original_fails_the_job(images, kind):
    case = representative(kind)
    first = gw.upload_ok(images["png"], "job-%s.png" % kind)
    image_id = first["id"]
    assert gw.wait_status(image_id)["status"] == "ready"

    hostile.s3_put("o/%s" % image_id, case.data)
    gw.psql("update images set status = 'failed', error = 'an earlier run failed' where id = '%s'" % image_id)
    pid = hostile.one_pid("processor")
    idle = hostile.wait_processor_idle()
    peak = Peak(("processor",)).start()
    t0 = time.monotonic()
    out = hostile.imgctl("retry", image_id)
    assert out.returncode == 0, out.stdout + out.stderr
    done = final_state(image_id, JOB_DEADLINE_S)
    ms = (time.monotonic() - t0) * 1000.0
    proc_mib = peak.growth_mib("processor")
    figure("job", case.name, len(case.data), done.get("status"), ms, None, proc_mib)

    assert done.get("status") == "failed", "not failed within %ds: %s" % (JOB_DEADLINE_S, gw.pretty(done))
    assert names_cause(done.get("error"), case.reason), \
        "the error does not name the cause %r: %r" % (case.reason, done.get("error"))
    assert proc_mib <= PROCESSOR_BOUND_MIB, "the processor's peak rose by %.1f MiB (bound %d MiB)%s" % (
        proc_mib, PROCESSOR_BOUND_MIB, "" if idle else "; it was still busy with earlier jobs")
    assert hostile.alive(pid) and hostile.pids("processor") == [pid], "the processor was replaced"
    processor_healthz()

    after = gw.upload_ok(images["jpg"], "job-after-%s.jpg" % kind)
    assert gw.wait_status(after["id"])["status"] == "ready"
    for body in (first, after):
        assert gw.delete_own(body, timeout=30).status_code in (202, 204)

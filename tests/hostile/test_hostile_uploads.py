"""Every file of the hostile corpus, uploaded through nginx like a user would,
is refused quickly and cheaply: its documented status (415 or 422) as
problem+json with a detail that names the cause, within a time bound, with
a bounded rise of the gateway's and the processor's peak memory, and nothing
stored. The valid files of the corpus are still accepted and end ready, so
the limits are not stricter than real images need.

Bounds. The time bound (3 s) is a bound on hostile work, generous for an
ASan build, not a speed claim. The gateway holds the body it received (a few
copies at most while it reads and checks it), never what the file inflates
to: its peak may rise by 3 x the file's size + 64 MiB. The processor must
never see a refused file: 64 MiB. A 400 KB PNG of zTXt bombs once took the
gateway from 92 MB to 873 MB and 4.7 s, and was accepted.
"""
import pytest

import corpus
import hostile
from hostile import MIB, Peak, figure, gw, names_cause

TIME_BOUND_MS = 3000
GATEWAY_SLACK_MIB = 64
PROCESSOR_BOUND_MIB = 64
READY_DEADLINE_S = 60


@pytest.mark.parametrize("case", corpus.cases(), ids=lambda c: c.name)
def test_hostile_upload_refused(case):
    snap = gw.Snapshot()
    idle = hostile.wait_processor_idle()
    peak = Peak().start()
    r, ms = hostile.timed(gw.upload, case.data, filename="%s-%s" % (snap.marker, case.name))
    gw_mib, proc_mib = peak.growth_mib("gateway"), peak.growth_mib("processor")
    figure("upload", case.name, len(case.data), r.status_code, ms, gw_mib, proc_mib)

    assert r.status_code == case.status, (case.name, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body.get("status") == case.status, body
    assert names_cause(body.get("detail"), case.reason) or body.get("reason") == case.reason, \
        "the detail does not name the cause %r (%s): %s" % (case.reason, hostile.cause_words(case.reason), body)
    assert ms < TIME_BOUND_MS, "%s took %.0f ms (bound %d ms)" % (case.name, ms, TIME_BOUND_MS)
    gw_bound = 3 * len(case.data) / MIB + GATEWAY_SLACK_MIB
    assert gw_mib <= gw_bound, "the gateway's peak rose by %.1f MiB (bound %.1f MiB)" % (gw_mib, gw_bound)
    assert proc_mib <= PROCESSOR_BOUND_MIB, "the processor's peak rose by %.1f MiB (bound %d MiB)%s" % (
        proc_mib, PROCESSOR_BOUND_MIB, "" if idle else "; it was still busy with earlier jobs")
    snap.assert_unchanged()
    gw.gateway_alive()


@pytest.mark.parametrize("case", corpus.valid_cases(), ids=lambda c: c.name)
def test_valid_upload_accepted(case):
    peak = Peak().start()
    r, ms = hostile.timed(gw.upload, case.data, filename="valid-" + case.name)
    assert r.status_code == 202, (case.name, r.status_code, r.text[:300])
    done = gw.wait_status(r.json()["id"], deadline_s=READY_DEADLINE_S)
    figure("valid", case.name, len(case.data), done["status"], ms,
           peak.growth_mib("gateway"), peak.growth_mib("processor"))
    assert done["status"] == "ready", gw.pretty(done)

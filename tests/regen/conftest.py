"""Helpers of the regeneration e2e tests.

The stack helpers (HTTP through nginx, imgctl, the bucket listing, fixture
images) are those of tests/gateway/conftest.py, loaded under another name;
this file adds what regeneration needs: the presets as imgctl shows them,
a preset changed for one test and put back afterwards, the processor's
/metrics, and the size a served JPEG says it has.
"""
import importlib.util
import os
import subprocess

import pytest
import requests

_GW = os.path.join(os.path.dirname(__file__), "..", "gateway", "conftest.py")
_spec = importlib.util.spec_from_file_location("gw_conftest", _GW)
gw = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gw)


@pytest.fixture(scope="session")
def jpg(tmp_path_factory):
    """A small real JPEG (gw_fixture)."""
    return gw.vips_make(str(tmp_path_factory.mktemp("img") / "a.jpg"), 640, 480)

KINDS = {"thumbnail": "VARIANT_THUMBNAIL", "resized": "VARIANT_RESIZED",
         "watermarked": "VARIANT_WATERMARKED"}


def imgctl_run(*args, timeout=600):
    """imgctl with its exit status and both streams (no JSON parsing)."""
    exe = os.path.join(gw.build_dir(), "common", "imgctl")
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=timeout)


def presets():
    """{kind name: preset as GetPresets' JSON}, and the stale count."""
    r = imgctl_run("presets", "show", "--json")
    assert r.returncode == 0, r.stderr
    body = gw.json.loads(r.stdout)
    by = {k: p for k, v in KINDS.items() for p in body["presets"] if p["kind"] == v}
    return by, int(body.get("stale_variants", 0))


def set_preset(kind, *kvs):
    """`imgctl presets set KIND k=v...`; the version it prints."""
    r = imgctl_run("presets", "set", kind, *kvs)
    assert r.returncode == 0, r.stderr
    line = r.stdout.strip()
    assert line.startswith(kind + ": "), line
    return int(line.rstrip(")").split("version ")[1])


@pytest.fixture
def restore_presets():
    """Puts every preset's box back after the test (other suites expect the
    defaults' sizes)."""
    before, _ = presets()
    yield before
    for kind, p in before.items():
        set_preset(kind, "width=%d" % p["width"], "height=%d" % p["height"])


def metrics():
    """The processor's metrics as {name: value} (unlabelled ones)."""
    r = requests.get("http://%s/metrics" % gw.env("IP_PROCESSOR_METRICS_LISTEN", "127.0.0.1:9103"),
                     timeout=10)
    assert r.status_code == 200
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def jpeg_size(data):
    """(width, height) from a JPEG's frame header."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    i = 2
    while i + 9 < len(data):
        assert data[i] == 0xFF, "broken JPEG at %d" % i
        marker = data[i + 1]
        seg = int.from_bytes(data[i + 2:i + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            h = int.from_bytes(data[i + 5:i + 7], "big")
            w = int.from_bytes(data[i + 7:i + 9], "big")
            return w, h
        i += 2 + seg
    raise AssertionError("no frame header")


def media(url):
    """GET a /media/ URL of an info document through nginx."""
    base = "http://%s" % gw.env("IP_HTTP_LISTEN", "127.0.0.1:8080")
    return gw.session.get(base + url, timeout=30)


def upload_ready(data, n, filename="r.jpg"):
    """Uploads `data` n times and waits until every one is ready; the ids."""
    ids = [gw.upload_ok(data, filename)["id"] for _ in range(n)]
    for i in ids:
        assert gw.wait_status(i, deadline_s=300)["status"] == "ready"
    return ids

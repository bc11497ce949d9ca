"""schemathesis against /api/openapi.json through nginx: every operation but
the never-ending /events stream, with the conformance checks, and with the
security schemes the document declares: the session's admin key is the bearer
of `apiKey` (schemathesis.toml's [auth.openapi.apiKey], the key from the
environment, never written to disk), so the protected operations are reached,
and the ignored_auth check sends them without it and with a wrong one and
wants the 401/403 the document lists."""
import os
import subprocess
import sys

from conftest import API, imgctl

CONFIG = """\
[auth.openapi.apiKey]
bearer = "${IP_SCHEMATHESIS_BEARER}"
"""


def _subscriptions():
    out = imgctl("webhooks", "list")
    return out if isinstance(out, list) else ([out] if out else [])


def test_schemathesis(tmp_path, admin_key):
    (tmp_path / "schemathesis.toml").write_text(CONFIG)
    cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(tmp_path / "schemathesis.toml"),
           "run", API + "/openapi.json",
           "--url", API,
           "--checks", "not_a_server_error,status_code_conformance,content_type_conformance,"
                       "response_headers_conformance,response_schema_conformance,ignored_auth",
           "--exclude-path", "/events",
           "--max-examples", os.environ.get("IP_GW_SCHEMATHESIS_EXAMPLES", "25"),
           "--request-timeout", "30", "--no-color"]
    before = {s["id"] for s in _subscriptions()}
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=800, cwd=str(tmp_path),
                           env={**os.environ, "IP_SCHEMATHESIS_BEARER": admin_key})
    finally:
        # The webhook subscriptions the fuzzer made go: left behind, they
        # would be sent every later image's events, at made-up addresses.
        for s in _subscriptions():
            if s["id"] not in before:
                imgctl("webhooks", "delete", s["id"], check=False)
    print(r.stdout[-6000:])
    print(r.stderr[-3000:])
    assert r.returncode == 0
    # The key was accepted: schemathesis warns "Authentication failed" when
    # operations answered only 401/403 (a wrong or revoked key).
    assert "Authentication failed" not in r.stdout

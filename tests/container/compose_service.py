"""Prints, as JSON, how docker-compose.yml runs one service of our image:
{"command": [...], "health": [...], "env": [...], "read_only": bool,
"tmpfs": [...], "init": bool}. "health" is the healthcheck's test array with
compose's "$$" escape turned into the "$" the container's shell sees; "env"
is the names under `environment` (anchors and merge keys resolved), whose
values the caller takes from its own stack. One source: the container test
runs exactly what compose would.

usage: compose_service.py COMPOSE_FILE SERVICE"""
import json
import sys

import yaml


def main():
    path, name = sys.argv[1], sys.argv[2]
    with open(path, encoding="utf-8") as f:
        doc = yaml.safe_load(f)
    svc = doc["services"][name]
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(e.split("=", 1) for e in env)
    health = [t.replace("$$", "$") for t in svc["healthcheck"]["test"]]
    tmpfs = svc.get("tmpfs") or []
    if isinstance(tmpfs, str):
        tmpfs = [tmpfs]
    json.dump({"command": svc["command"], "health": health, "env": sorted(env),
               "read_only": bool(svc.get("read_only")), "tmpfs": tmpfs,
               "init": bool(svc.get("init"))}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

"""compose.env: every variable a service reads is documented and passed.

For each service binary, `<binary> --config-vars` prints its configuration
table, one `IP_NAME=default  # help` line per variable. Each of those names
must be in .env.example (the documented defaults) and in that service's
`environment` in docker-compose.yml as docker-compose resolves it with
.env.example (so a setting in .env reaches the container that reads it).

usage: compose_env.py SOURCE_DIR SERVICE=BINARY...
"""
import subprocess
import sys

import yaml


def env_example_names(path):
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                names.add(line.split("=", 1)[0].strip())
    return names


def config_vars(binary):
    out = subprocess.run([binary, "--config-vars"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"{binary} --config-vars exited {out.returncode}: {out.stderr.strip()}")
    names = []
    for line in out.stdout.splitlines():
        head = line.split("#", 1)[0].strip()
        if head.startswith("IP_") and "=" in head:
            names.append(head.split("=", 1)[0])
    if not names:
        raise RuntimeError(f"{binary} --config-vars printed no IP_* variable")
    return names


def main():
    src = sys.argv[1]
    resolved = subprocess.run(
        ["docker-compose", "--project-directory", src, "--env-file", f"{src}/.env.example",
         "-f", f"{src}/docker-compose.yml", "config"],
        capture_output=True, text=True, timeout=60, check=True).stdout
    services = yaml.safe_load(resolved)["services"]
    documented = env_example_names(f"{src}/.env.example")

    problems, checked = [], 0
    for arg in sys.argv[2:]:
        svc, binary = arg.split("=", 1)
        try:
            names = config_vars(binary)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            problems.append(f"{svc}: {e}")
            continue
        env = services.get(svc, {}).get("environment", {}) or {}
        if isinstance(env, list):
            env = dict(e.split("=", 1) for e in env)
        for name in names:
            checked += 1
            if name not in documented:
                problems.append(f"{svc}: {name} is not in .env.example")
            if name not in env:
                problems.append(f"{svc}: {name} is not passed by docker-compose.yml")
        print(f"{svc}: {len(names)} variables checked")
    for p in problems:
        print("FAIL:", p)
    print(f"compose.env: {checked} variables, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

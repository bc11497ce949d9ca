"""config.shared_settings: a setting several parts read is the same setting.

Every binary prints its configuration table with `--config-vars`, one
`IP_NAME=default  # help [min..max] (secret)` line per variable. A variable
printed by more than one binary (the addresses of the internal services, the
RPC limits, Kafka, the bucket, the upload and pixel limits, the log level)
must be printed identically by all of them: same default, same bounds, same
help. The shared ones are defined once in common/ip_settings.h; this test is
what keeps a service from declaring its own copy that drifts.

usage: shared_settings.py NAME=BINARY...   (at least two)
"""
import subprocess
import sys


def config_lines(binary):
    """{variable: its whole --config-vars line} for one binary."""
    out = subprocess.run([binary, "--config-vars"], capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise RuntimeError(f"--config-vars exited {out.returncode}: {out.stderr.strip()}")
    lines = {}
    for line in out.stdout.splitlines():
        name = line.split("=", 1)[0]
        if not name.startswith("IP_") or "=" not in line:
            continue
        if name in lines:
            raise RuntimeError(f"{name} is printed twice")
        lines[name] = line.rstrip()
    if not lines:
        raise RuntimeError("--config-vars printed no IP_* variable")
    return lines


def main(args):
    if len(args) < 2 or any("=" not in a for a in args):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    tables, problems = {}, []
    for arg in args:
        who, binary = arg.split("=", 1)
        try:
            tables[who] = config_lines(binary)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as e:
            problems.append(f"{who} ({binary}): {e}")

    readers = {}
    for who, lines in tables.items():
        for name in lines:
            readers.setdefault(name, []).append(who)
    shared = sorted(n for n, w in readers.items() if len(w) > 1)
    for name in shared:
        variants = {}
        for who in readers[name]:
            variants.setdefault(tables[who][name], []).append(who)
        if len(variants) > 1:
            problems.append(f"{name} is printed differently:\n" +
                            "\n".join(f"    {', '.join(w)}: {line}"
                                      for line, w in sorted(variants.items())))
        else:
            print(f"{name}: same in {', '.join(readers[name])}")

    for p in problems:
        print("FAIL:", p)
    print(f"config.shared_settings: {len(shared)} shared variables in {len(tables)} binaries, "
          f"{len(problems)} problems")
    return 1 if problems or not tables else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Prints, as JSON, the shell scripts of the Helm chart's setup Job that run
in the project's image: {"migrate": "...", "bucket": "..."}, taken from
`helm template` of deploy/helm/imageprocessor (placeholder endpoints; the
caller runs the scripts with its own stack's settings). The topics step runs
in Kafka's image, which cannot be had here, and is left out.

usage: chart_job.py REPO_ROOT HELM"""
import json
import os
import subprocess
import sys

import yaml


def main():
    root, helm = sys.argv[1], sys.argv[2]
    out = subprocess.run(
        [helm, "template", "ct", os.path.join(root, "deploy/helm/imageprocessor"), "--kube-version", "1.30.0",
         "--set", "kafka.brokers=k:9092", "--set", "s3.endpoint=http://s3:9000", "--set", "postgres.dsn=x",
         "--set", "s3.accessKey=x", "--set", "s3.secretKey=x"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    job = [d for d in yaml.safe_load_all(out) if d and d["kind"] == "Job"][0]
    spec = job["spec"]["template"]["spec"]
    steps = {c["name"]: c for c in spec["initContainers"] + spec["containers"]}
    json.dump({name: steps[name]["command"][-1] for name in ("migrate", "bucket")}, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

"""The Helm chart (deploy/helm/imageprocessor) checked with the real helm:
`helm lint --strict` and `helm template` with several sets of values, each
rendering parsed as YAML and asserted on (what a cluster would be given).

usage: chart_test.py REPO_ROOT HELM CASE
CASE: lint | workloads | config | autoscaling | monitoring | failures

  lint         helm lint --strict passes with the values a user must set
  workloads    the four services, nginx and the setup Job: non-root, read-only
               root filesystem, no privilege escalation, every capability
               dropped, resources, probes; the services' commands and the
               metadata/storage probes are docker-compose.yml's; Services and
               PodDisruptionBudgets select real pods
  config       ConfigMap/Secret split: no credential (name or value) in any
               ConfigMap, every service reads both, every setting is one of
               .env.example's; metadata-svc's pods all listed; existingSecret
               replaces the chart's Secret; nginx's template is the project's
  autoscaling  HPA on the processors by default; with processor.keda.enabled a
               ScaledObject on the consumer group's lag and no HPA; neither
               when both are off (fixed replicas)
  monitoring   the rules ConfigMap and the PrometheusRule carry files/alerts.yml
               exactly; ServiceMonitors give the job names the rules use
  failures     a credential under `config`, or a missing required value, makes
               helm template fail with a message naming it
Runs with Debian's python3 (python3-yaml)."""
import atexit
import json
import os
import subprocess
import sys

import yaml

ROOT, HELM, CASE = sys.argv[1], sys.argv[2], sys.argv[3]
CHART = os.path.join(ROOT, "deploy/helm/imageprocessor")
SECRETS = {"IP_PG_DSN": "postgresql://imageproc:pg-SeCrEt-1@pg.db:5432/imageproc",
           "IP_S3_ACCESS_KEY": "AKIA-access-SeCrEt-2", "IP_S3_SECRET_KEY": "s3-SeCrEt-3"}
# The values a user must set, as a values file (helm's --set splits on commas).
REQUIRED = {"kafka": {"brokers": "kafka-0.kafka:9092,kafka-1.kafka:9092"},
            "s3": {"endpoint": "http://minio.storage.svc:9000", "accessKey": SECRETS["IP_S3_ACCESS_KEY"],
                   "secretKey": SECRETS["IP_S3_SECRET_KEY"]},
            "postgres": {"dsn": SECRETS["IP_PG_DSN"]}}
SERVICES = {"gateway": "gateway", "metadata-svc": "metadata", "storage-svc": "storage",
            "processor": "processor"}
failures = []


def check(cond, what):
    if cond:
        print("ok: " + what)
    else:
        print("FAIL: " + what)
        failures.append(what)


def values_file(values):
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "ip-chart-values-%d.yaml" % os.getpid())
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(values, f)
    atexit.register(lambda: os.path.exists(path) and os.remove(path))
    return path


def helm(*args, ok=True):
    cmd = [HELM, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if ok and r.returncode != 0:
        sys.exit("helm %s failed (%d): %s" % (" ".join(args), r.returncode, r.stderr[-2000:]))
    return r


def render(*sets, ok=True):
    args = ["template", "rel", CHART, "--namespace", "imgs", "--kube-version", "1.30.0",
            "--values", values_file(REQUIRED)]
    for s in sets:
        args += ["--set", s]
    r = helm(*args, ok=ok)
    if not ok:
        return r
    docs = [d for d in yaml.safe_load_all(r.stdout) if d]
    return docs


def by_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def pod_specs(docs):
    """(name, pod spec) of every workload that makes pods."""
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield "%s/%s" % (d["kind"], d["metadata"]["name"]), d["spec"]["template"]


def compose_service(name):
    with open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8") as f:
        return yaml.safe_load(f)["services"][name]


def case_lint():
    vals = values_file(REQUIRED)
    r = helm("lint", "--strict", CHART, "--kube-version", "1.30.0", "--values", vals, ok=False)
    check(r.returncode == 0, "helm lint --strict passes (%s)" % (r.stdout + r.stderr).strip()[-300:])
    r = helm("lint", "--strict", CHART, "--kube-version", "1.30.0", "--values", vals, "--set",
             "processor.keda.enabled=true,ingress.enabled=true,monitoring.prometheusRule.enabled=true,"
             "monitoring.serviceMonitor.enabled=true", ok=False)
    check(r.returncode == 0, "helm lint --strict passes with every option on (%s)" % (r.stdout + r.stderr).strip()[-300:])


def case_workloads():
    docs = render()
    deps, sts, jobs = by_kind(docs, "Deployment"), by_kind(docs, "StatefulSet"), by_kind(docs, "Job")
    check(set(deps) == {"rel-imageprocessor-gateway", "rel-imageprocessor-storage",
                        "rel-imageprocessor-processor", "rel-imageprocessor-nginx"},
          "Deployments: gateway, storage, processor, nginx (%s)" % sorted(deps))
    check(set(sts) == {"rel-imageprocessor-metadata"}, "metadata-svc is a StatefulSet")
    check(set(jobs) == {"rel-imageprocessor-setup-1"}, "one setup Job, named for the revision")
    for name, tpl in pod_specs(docs):
        spec = tpl["spec"]
        psc = spec.get("securityContext", {})
        check(psc.get("runAsNonRoot") is True and psc.get("runAsUser", 0) != 0,
              "%s: pod runs as non-root (uid %s)" % (name, psc.get("runAsUser")))
        check(psc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
              "%s: seccomp RuntimeDefault" % name)
        check(spec.get("automountServiceAccountToken") is False, "%s: no service account token" % name)
        for c in spec.get("initContainers", []) + spec["containers"]:
            cn = "%s[%s]" % (name, c["name"])
            sc = c.get("securityContext", {})
            check(sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
                  and sc.get("capabilities", {}).get("drop") == ["ALL"],
                  "%s: read-only root, no privilege escalation, every capability dropped" % cn)
            check(sc.get("runAsUser", psc.get("runAsUser", 0)) != 0, "%s: uid is not 0" % cn)
            res = c.get("resources", {})
            check("cpu" in res.get("requests", {}) and "memory" in res.get("requests", {})
                  and "memory" in res.get("limits", {}),
                  "%s: cpu/memory requests and a memory limit" % cn)
    pods = {}
    for name, tpl in pod_specs(docs):
        pods[name] = tpl
    for svc, short in SERVICES.items():
        kind = "StatefulSet" if svc == "metadata-svc" else "Deployment"
        tpl = pods["%s/rel-imageprocessor-%s" % (kind, short)]
        c = tpl["spec"]["containers"][0]
        comp = compose_service(svc)
        check(c["args"] == comp["command"], "%s: runs %s, compose's command" % (svc, c["args"]))
        check(c["image"] == "imageprocessor:local", "%s: the project's image" % svc)
        for p in ("startupProbe", "livenessProbe", "readinessProbe"):
            check(p in c, "%s: has a %s" % (svc, p))
        if svc in ("metadata-svc", "storage-svc"):
            # compose: imgctl ping metadata|storage; the chart pins the pod's own address.
            want = comp["healthcheck"]["test"][1:]
            got = c["livenessProbe"]["exec"]["command"]
            check(got[0] == want[0] and got[-2:] == want[-2:] and "tcp://127.0.0.1:" in " ".join(got),
                  "%s: probe is compose's %s on the pod's own address (%s)" % (svc, want, got))
        else:
            port = {"gateway": "http", "processor": "metrics"}[svc]
            check(c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port},
                  "%s: liveness is GET /healthz, as compose's health check" % svc)
        vols = {v["name"]: v for v in tpl["spec"]["volumes"]}
        check(any(m["mountPath"] == "/tmp" for m in c["volumeMounts"]) and "emptyDir" in vols["tmp"],
              "%s: /tmp is an emptyDir (the only writable place)" % svc)
    # Every Service and PDB selects the pods of one workload.
    labels = [tpl["metadata"]["labels"] for tpl in pods.values()]
    for kind in ("Service", "PodDisruptionBudget"):
        for name, d in by_kind(docs, kind).items():
            sel = d["spec"]["selector"]
            sel = sel.get("matchLabels", sel)
            hits = [l for l in labels if all(l.get(k) == v for k, v in sel.items())]
            check(len(hits) == 1, "%s %s selects one workload's pods" % (kind, name))
    pdbs = by_kind(docs, "PodDisruptionBudget")
    check(len(pdbs) == 5 and all(p["spec"]["maxUnavailable"] == 1 for p in pdbs.values()),
          "a PodDisruptionBudget (maxUnavailable 1) for each of the five workloads")
    # nginx fronts the gateway Service, the page comes from the project's image.
    ng = pods["Deployment/rel-imageprocessor-nginx"]["spec"]
    env = {e["name"]: e["value"] for e in ng["containers"][0]["env"]}
    check(env["NGINX_GATEWAYS"] == "server rel-imageprocessor-gateway:8081 max_fails=0;",
          "nginx proxies /api/ to the gateway Service")
    check(env["NGINX_S3"] == "minio.storage.svc:9000", "nginx reads /media/ from the S3 endpoint's host:port")
    check(ng["initContainers"][0]["image"] == "imageprocessor:local"
          and "/app/web/." in ng["initContainers"][0]["command"], "the page is copied from the project's image")
    job = jobs["rel-imageprocessor-setup-1"]["spec"]["template"]["spec"]
    steps = [c["name"] for c in job["initContainers"] + job["containers"]]
    check(steps == ["migrate", "topics", "bucket"], "the setup Job migrates, makes the topics, then the bucket")
    script = job["initContainers"][1]["command"][-1]
    check("--if-not-exists" in script and "kafka-topics.sh" in script, "topics are created only if missing")
    benv = {e["name"]: e["value"] for e in job["initContainers"][1]["env"]}
    check(benv["BROKERS"] == "kafka-0.kafka:9092,kafka-1.kafka:9092", "the Job's topics step uses kafka.brokers")
    check("imgctl bucket-policy" in job["containers"][0]["command"][-1],
          "the bucket policy is imgctl's (one definition)")
    docs2 = render("gateway.replicas=3")
    g = by_kind(docs2, "Deployment")["rel-imageprocessor-gateway"]
    check(g["spec"]["replicas"] == 3, "gateway.replicas sets the gateway's replicas")


def case_config():
    docs = render()
    cms, secrets = by_kind(docs, "ConfigMap"), by_kind(docs, "Secret")
    cm = cms["rel-imageprocessor-config"]["data"]
    for k in SECRETS:
        check(k not in cm, "%s is not in the ConfigMap" % k)
    text = json.dumps([d.get("data") for d in cms.values()])
    for k, v in SECRETS.items():
        check(v not in text, "the value of %s appears in no ConfigMap" % k)
    sec = secrets["rel-imageprocessor-secrets"]
    check(sec.get("stringData") == SECRETS, "the Secret holds exactly the three credentials")
    with open(os.path.join(ROOT, ".env.example"), encoding="utf-8") as f:
        known = {l.split("=", 1)[0].lstrip("#").strip() for l in f if "=" in l}
    unknown = [k for k in cm if k.startswith("IP_") and k not in known]
    check(not unknown, "every IP_* setting in the ConfigMap is one of .env.example's (%s)" % unknown)
    check(cm["IP_METADATA_RPC_URL"] == "tcp://rel-imageprocessor-metadata-0.rel-imageprocessor-metadata.imgs.svc:7101,"
          "tcp://rel-imageprocessor-metadata-1.rel-imageprocessor-metadata.imgs.svc:7101",
          "clients are given every metadata-svc pod (%s)" % cm["IP_METADATA_RPC_URL"])
    check(cm["IP_METADATA_EVENTS_URL"].count("tcp://") == 2, "... and every pod's events address")
    check(cm["IP_STORAGE_RPC_URL"] == "tcp://rel-imageprocessor-storage.imgs.svc:7201", "storage-svc by its Service")
    check(cm["IP_KAFKA_BROKERS"] == "kafka-0.kafka:9092,kafka-1.kafka:9092", "external Kafka brokers")
    check(cm["IP_S3_ENDPOINT"] == "http://minio.storage.svc:9000", "external S3 endpoint")
    for name, tpl in pod_specs(docs):
        for c in tpl["spec"]["containers"] + tpl["spec"].get("initContainers", []):
            if c["image"] != "imageprocessor:local":
                continue
            if c["name"] == "page":
                check("envFrom" not in c and "env" not in c, "%s[page] (copies the page) is given no settings" % name)
                continue
            refs = [list(e.values())[0]["name"] for e in c.get("envFrom", [])]
            check(refs == ["rel-imageprocessor-config", "rel-imageprocessor-secrets"],
                  "%s[%s] reads the ConfigMap and the Secret" % (name, c["name"]))
    own = {"gateway": "IP_GATEWAY_LISTEN", "metadata": "IP_METADATA_RPC_URL", "storage": "IP_STORAGE_RPC_URL",
           "processor": "IP_PROCESSOR_METRICS_LISTEN"}
    for name, tpl in pod_specs(docs):
        short = name.split("rel-imageprocessor-")[1]
        if short in own:
            env = {e["name"]: e["value"] for e in tpl["spec"]["containers"][0]["env"]}
            check("0.0.0.0:" in env.get(own[short], ""), "%s listens on every address of its pod" % short)
    ann = {n: tpl["metadata"].get("annotations", {}) for n, tpl in pod_specs(docs)}
    check(all("checksum/config" in ann[n] for n in ann if "nginx" not in n and "setup" not in n),
          "a configuration change rolls the services' pods (checksum/config)")
    with open(os.path.join(ROOT, "nginx/site.conf.template"), encoding="utf-8") as f:
        site = f.read()
    check(cms["rel-imageprocessor-nginx"]["data"]["default.conf.template"].strip() == site.strip(),
          "nginx's template is the project's nginx/site.conf.template")
    docs = render("existingSecret=my-secrets")
    check(not by_kind(docs, "Secret"), "existingSecret: the chart makes no Secret")
    refs = {c["envFrom"][1]["secretRef"]["name"] for _, t in pod_specs(docs) for c in t["spec"]["containers"]
            if c["image"] == "imageprocessor:local"}
    check(refs == {"my-secrets"}, "existingSecret: the services read it")
    docs = render("metadata.replicas=3")
    cm = by_kind(docs, "ConfigMap")["rel-imageprocessor-config"]["data"]
    check(cm["IP_METADATA_RPC_URL"].count("tcp://") == 3, "metadata.replicas=3: three addresses")


def case_autoscaling():
    docs = render()
    hpa = by_kind(docs, "HorizontalPodAutoscaler")
    check(list(hpa) == ["rel-imageprocessor-processor"], "an HPA for the processors by default")
    h = hpa["rel-imageprocessor-processor"]["spec"]
    check(h["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                  "name": "rel-imageprocessor-processor"}, "the HPA scales the processor Deployment")
    check(h["maxReplicas"] <= 12 and h["metrics"][0]["resource"]["name"] == "cpu",
          "on CPU, at most the partitions' count (%d)" % h["maxReplicas"])
    proc = by_kind(docs, "Deployment")["rel-imageprocessor-processor"]["spec"]
    check("replicas" not in proc, "the Deployment leaves replicas to the autoscaler")
    check(not [d for d in docs if d["kind"] == "ScaledObject"], "no KEDA ScaledObject unless enabled")
    docs = render("processor.keda.enabled=true")
    so = [d for d in docs if d["kind"] == "ScaledObject"]
    check(len(so) == 1 and so[0]["apiVersion"] == "keda.sh/v1alpha1", "keda.enabled: one ScaledObject")
    check(not by_kind(docs, "HorizontalPodAutoscaler"), "keda.enabled: no HPA of the chart's (KEDA owns it)")
    spec = so[0]["spec"]
    check(spec["scaleTargetRef"]["name"] == "rel-imageprocessor-processor", "the ScaledObject scales the processors")
    trig = spec["triggers"]
    check([t["type"] for t in trig] == ["kafka", "kafka"]
          and {t["metadata"]["topic"] for t in trig} == {"image-jobs", "image-jobs.regen"}
          and all(t["metadata"]["consumerGroup"] == "processor"
                  and t["metadata"]["bootstrapServers"] == "kafka-0.kafka:9092,kafka-1.kafka:9092" for t in trig),
          "on the processor group's lag of the job and regeneration topics")
    docs = render("processor.autoscaling.enabled=false", "processor.replicas=4")
    check(not by_kind(docs, "HorizontalPodAutoscaler")
          and by_kind(docs, "Deployment")["rel-imageprocessor-processor"]["spec"]["replicas"] == 4,
          "autoscaling off: no HPA, processor.replicas fixed")


def case_monitoring():
    with open(os.path.join(CHART, "files/alerts.yml"), encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    docs = render()
    cm = by_kind(docs, "ConfigMap")["rel-imageprocessor-alerts"]["data"]
    check(yaml.safe_load(cm["imageprocessor-alerts.yml"]) == rules, "the rules ConfigMap is files/alerts.yml")
    check(not [d for d in docs if d["kind"] in ("PrometheusRule", "ServiceMonitor")],
          "no operator objects unless enabled")
    docs = render("monitoring.prometheusRule.enabled=true", "monitoring.serviceMonitor.enabled=true",
                  "monitoring.rulesConfigMap.enabled=false")
    pr = [d for d in docs if d["kind"] == "PrometheusRule"]
    check(len(pr) == 1 and pr[0]["spec"] == rules, "the PrometheusRule carries files/alerts.yml exactly")
    check("rel-imageprocessor-alerts" not in by_kind(docs, "ConfigMap"), "rulesConfigMap.enabled=false: none")
    sm = [d for d in docs if d["kind"] == "ServiceMonitor"]
    jobs = sorted(e["relabelings"][0]["replacement"] for d in sm for e in d["spec"]["endpoints"])
    check(jobs == ["imageprocessor-gateway", "imageprocessor-processor"],
          "ServiceMonitors name the jobs the rules use (%s)" % jobs)
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    for a in ("ImageProcessorServiceDown", "ImageProcessorConsumerLagGrowing", "ImageProcessorJobsWaitingOnDependency",
              "ImageProcessorDLQNotEmpty", "ImageProcessorHighJobFailureRate", "ImageProcessorHigh5xxRate"):
        check(a in alerts, "the rules include %s" % a)


def case_failures():
    r = render("config.IP_PG_DSN=postgresql://x", ok=False)
    check(r.returncode != 0 and "config.IP_PG_DSN is a secret" in r.stderr,
          "a credential under config is refused (%s)" % r.stderr.strip()[-120:])
    partial = dict(REQUIRED, kafka={})
    r = helm("template", "rel", CHART, "--kube-version", "1.30.0", "--values", values_file(partial), ok=False)
    check(r.returncode != 0 and "kafka.brokers is required" in r.stderr, "a missing kafka.brokers is named")


{"lint": case_lint, "workloads": case_workloads, "config": case_config, "autoscaling": case_autoscaling,
 "monitoring": case_monitoring, "failures": case_failures}[CASE]()
if failures:
    print("%d check(s) failed" % len(failures))
    sys.exit(1)

#!/usr/bin/env bash
# prometheus.targets_up: the real Prometheus of the native stack
# (scripts/stack start prometheus) scrapes every service and loads the alert
# rules. Through its HTTP API:
#   - the active targets are exactly the jobs imageprocessor-gateway (one per
#     gateway instance), imageprocessor-processor (one per processor),
#     imageprocessor-kafka (the exporter) and prometheus, and every one is up;
#   - real series arrive from each: gw_http_requests_total,
#     proc_jobs_total, kafka_topic_partition_current_offset for every
#     partition of the job topic;
#   - the three rule groups of deploy/helm/imageprocessor/files/alerts.yml
#     are loaded and every rule has been evaluated without error, and
#     ImageProcessorServiceDown is not firing.
# Prometheus is started if it was not running, and then stopped again.
# Needs the environment scripts/test exports (IP_*).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib/common.sh"
ip_load_env
: "${IP_PROMETHEUS_LISTEN:=127.0.0.1:9095}"
api="http://$IP_PROMETHEUS_LISTEN/api/v1"
stack="$IP_ROOT/scripts/stack"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

started=0
if ! "$stack" status prometheus >/dev/null 2>&1; then
  "$stack" start prometheus
  started=1
fi
cleanup() {
  if ((started)); then "$stack" stop prometheus >/dev/null || true; fi
}
trap cleanup EXIT

want_jobs="imageprocessor-gateway:${IP_GATEWAY_INSTANCES:-1} imageprocessor-kafka:1 imageprocessor-processor:${IP_PROCESSOR_INSTANCES:-1} prometheus:1"

# Every target scraped at least once and up (a target not scraped yet is
# "unknown"); the deadline covers a few scrape intervals.
deadline=$((SECONDS + 90))
while :; do
  targets="$(curl -fsS -m 5 "$api/targets?state=active" || true)"
  jobs="$(jq -r '[.data.activeTargets[].labels.job] | group_by(.) | map("\(.[0]):\(length)") | join(" ")' <<<"$targets" 2>/dev/null || true)"
  down="$(jq -r '[.data.activeTargets[] | select(.health != "up") | "\(.labels.job) \(.labels.instance) \(.health) \(.lastError)"] | join("; ")' <<<"$targets" 2>/dev/null || echo "no answer")"
  [[ $jobs == "$want_jobs" && -z $down ]] && break
  ((SECONDS < deadline)) || fail "targets not all up within 90s: jobs '$jobs' (want '$want_jobs'), not up: $down"
  sleep 0.5
done
echo "ok: every target up: $jobs"

query() { curl -fsS -m 5 --get --data-urlencode "query=$1" "$api/query" | jq -r '.data.result | length'; }
n="$(query 'gw_http_requests_total')"
((n > 0)) || fail "no gw_http_requests_total series"
n="$(query 'proc_jobs_total{outcome="ready"}')"
((n > 0)) || fail "no proc_jobs_total series"
n="$(query "kafka_topic_partition_current_offset{topic=\"$IP_KAFKA_TOPIC\"}")"
((n == IP_KAFKA_PARTITIONS)) || fail "$n partitions of $IP_KAFKA_TOPIC seen by the exporter, want $IP_KAFKA_PARTITIONS"
echo "ok: series from the gateway, the processor and the Kafka exporter"

deadline=$((SECONDS + 60))
while :; do
  rules="$(curl -fsS -m 5 "$api/rules?type=alert")"
  groups="$(jq -r '[.data.groups[].name] | sort | join(" ")' <<<"$rules")"
  unevaluated="$(jq -r '[.data.groups[].rules[] | select(.health != "ok") | "\(.name) \(.health) \(.lastError // "")"] | join("; ")' <<<"$rules")"
  [[ $groups == "imageprocessor.availability imageprocessor.http imageprocessor.jobs" && -z $unevaluated ]] && break
  ((SECONDS < deadline)) || fail "rule groups '$groups'; rules not evaluated or failing: $unevaluated"
  sleep 0.5
done
count="$(jq '[.data.groups[].rules[]] | length' <<<"$rules")"
want="$(grep -c '^      - alert:' "$IP_ROOT/deploy/helm/imageprocessor/files/alerts.yml")"
((count == want)) || fail "$count alert rules loaded, the file has $want"
firing="$(jq -r '[.data.groups[].rules[] | select(.name == "ImageProcessorServiceDown") | .alerts[]] | length' <<<"$rules")"
((firing == 0)) || fail "ImageProcessorServiceDown is active with every target up"
echo "ok: $count alert rules loaded and evaluated; no service-down alert"

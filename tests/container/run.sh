#!/usr/bin/env bash
# container.image_e2e: the project's image built from the Dockerfile and its
# four services run from it for real, against the test stack's PostgreSQL,
# Kafka, S3 and nginx.
#
#   1. The base image (Debian's minbase, made with debootstrap, cached as a
#      tarball) and the image itself are built with podman (the build layers
#      kept under var/tools/containers, so a second run rebuilds only what
#      changed: the packages' layers stay). Build time and image size
#      are printed, and appended to $IP_VAR_DIR/log/container-figures.txt.
#   2. The image holds no compiler, and its default user is uid 10001.
#   3. The stack's native metadata-svc, storage-svc, processor and gateway
#      are stopped and the four containers take their addresses (host
#      network, read-only root filesystem with a tmpfs /tmp and an init
#      process, as compose runs them). Command, health check and the names of the
#      settings each gets come from docker-compose.yml
#      (compose_service.py); the values are this stack's. Each must turn
#      healthy through its compose health check (`podman healthcheck run`).
#      Before them, the Helm chart's setup Job steps that run in this image
#      (migrate, bucket; chart_job.py takes them from `helm template`) run
#      from it against this stack and must succeed.
#   4. Through nginx: an upload is accepted (202), ends ready, its variant is
#      served under /media/, it is deleted (204) and then 404; every service
#      process runs as uid 10001.
#   5. Whatever happened, the containers are removed and the native services
#      started again, so the tests after this one find the stack as before.
#
# Exits 77 (ctest SKIP) only when podman cannot run on this machine at all
# (not root, podman/runc/debootstrap missing, `podman info` failing), with
# the reason. Needs the environment scripts/test exports (IP_*).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../scripts/lib/common.sh"
ip_load_env
source "$IP_ROOT/scripts/lib/podman.sh"
ip_podman_init

SERVICES=(metadata-svc storage-svc processor gateway)
TAG="localhost/imageprocessor:test"
NAME_PREFIX="ip-ctest"
PY=/usr/bin/python3
base="http://$IP_HTTP_LISTEN"

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

reason="$(ip_podman_unusable)"
if [[ -n $reason ]]; then
  echo "SKIP: podman cannot run here: $reason"
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# --- 1. build -----------------------------------------------------------------
ip_podman_base
old_id="$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)"
ip_podman_build "$TAG"
# The image this build replaced goes; the build's cached layers stay.
new_id="$("${PODMAN[@]}" image inspect --format '{{.Id}}' "$TAG")"
if [[ -n $old_id && $old_id != "$new_id" ]]; then
  "${PODMAN[@]}" rmi "$old_id" >/dev/null 2>&1 || true
fi
size="$("${PODMAN[@]}" image inspect --format '{{.Size}}' "$TAG")"
size_mb="$(awk -v b="$size" 'BEGIN { printf "%.1f", b / 1e6 }')"
figures="image $TAG: ${size_mb} MB, build ${IP_PODMAN_BUILD_S}s"
echo "container figures: $figures"
mkdir -p "$IP_VAR_DIR/log"
echo "$(date -u +%FT%TZ) $figures" >>"$IP_VAR_DIR/log/container-figures.txt"

# --- 2. what the image holds ------------------------------------------------------
user="$("${PODMAN[@]}" image inspect --format '{{.Config.User}}' "$TAG")"
[[ $user == 10001:10001 ]] || fail "the image's user is '$user', want 10001:10001"
compilers="$("${PODMAN[@]}" run --rm --network host --entrypoint /bin/sh "$TAG" -c \
  'for c in cc gcc g++ c++ clang ld as make cmake; do command -v $c; done; true')"
[[ -z $compilers ]] || fail "the runtime image holds build tools: $compilers"
echo "ok: runs as 10001:10001, no compiler or build tool inside"

# --- 3. the services from the image ---------------------------------------------
restore() {
  local rc=$?
  trap - EXIT
  local s
  for s in "${SERVICES[@]}"; do
    if [[ $rc -ne 0 ]] && "${PODMAN[@]}" container exists "$NAME_PREFIX-$s" 2>/dev/null; then
      echo "--- last log lines of container $s" >&2
      "${PODMAN[@]}" logs --tail 30 "$NAME_PREFIX-$s" >&2 2>&1 || true
    fi
    "${PODMAN[@]}" rm -f -t 10 "$NAME_PREFIX-$s" >/dev/null 2>&1 || true
  done
  "$IP_ROOT/scripts/stack" start "${SERVICES[@]}" >/dev/null ||
    { echo "FAIL: the native services did not start again" >&2; rc=1; }
  rm -rf "$tmp"
  exit "$rc"
}
trap restore EXIT
"$IP_ROOT/scripts/stack" stop "${SERVICES[@]}" >/dev/null

run_service() {
  local s="$1" spec k
  spec="$("$PY" "$here/compose_service.py" "$IP_ROOT/docker-compose.yml" "$s")"
  local args=(run -d --name "$NAME_PREFIX-$s" --network host --health-interval disable)
  [[ $(jq -r .read_only <<<"$spec") == true ]] && args+=(--read-only)
  [[ $(jq -r .init <<<"$spec") == true ]] && args+=(--init)
  while read -r k; do args+=(--tmpfs "$k"); done < <(jq -r '.tmpfs[]' <<<"$spec")
  while read -r k; do
    [[ -n ${!k+set} ]] && args+=(-e "$k=${!k}")
  done < <(jq -r '.env[]' <<<"$spec")
  # The health check exactly as compose gives it: CMD-SHELL runs a string
  # with the container's shell, CMD an argument list (podman takes it as JSON).
  if [[ $(jq -r '.health[0]' <<<"$spec") == CMD-SHELL ]]; then
    args+=(--health-cmd "$(jq -r '.health[1]' <<<"$spec")")
  else
    args+=(--health-cmd "$(jq -c '.health[1:]' <<<"$spec")")
  fi
  local cmd=()
  mapfile -t cmd < <(jq -r '.command[]' <<<"$spec")
  "${PODMAN[@]}" "${args[@]}" "$TAG" "${cmd[@]}" >/dev/null
}

wait_healthy() {
  local s="$1" deadline=$((SECONDS + 90)) state
  until "${PODMAN[@]}" healthcheck run "$NAME_PREFIX-$s" >/dev/null 2>&1; do
    state="$("${PODMAN[@]}" inspect --format '{{.State.Status}}' "$NAME_PREFIX-$s" 2>/dev/null || echo gone)"
    [[ $state == running ]] || fail "container $s is $state before it turned healthy"
    ((SECONDS < deadline)) || fail "container $s not healthy within 90s"
    sleep 0.2
  done
  echo "ok: $s healthy (its compose health check)"
}

# The chart's setup Job, its steps that run in this image (migrate: the
# schema by metadata-svc, which then stops; bucket: the bucket and its
# policy), with this stack's settings.
helm="$IP_TOOLS_DIR/bin/helm"
[[ -x $helm ]] || fail "helm missing at $helm (scripts/deps builds it)"
job="$("$PY" "$here/chart_job.py" "$IP_ROOT" "$helm")"
for step in migrate bucket; do
  env_args=()
  for k in IP_LOG_LEVEL IP_PG_DSN IP_METADATA_RPC_URL IP_METADATA_EVENTS_URL IP_S3_ENDPOINT IP_S3_REGION \
    IP_S3_BUCKET IP_S3_ACCESS_KEY IP_S3_SECRET_KEY; do
    env_args+=(-e "$k=${!k}")
  done
  out="$("${PODMAN[@]}" run --rm --network host --read-only --tmpfs /tmp "${env_args[@]}" "$TAG" \
    /bin/sh -c "$(jq -r ".$step" <<<"$job")" 2>&1)" || fail "the chart's setup step $step failed: $out"
done
[[ $out == *"bucket $IP_S3_BUCKET and its policy ready"* ]] || fail "the bucket step said: $out"
echo "ok: the chart's setup Job steps (migrate, bucket) run from the image"

for s in "${SERVICES[@]}"; do
  run_service "$s"
  wait_healthy "$s"
done

# --- 4. an image through nginx ---------------------------------------------------------
convert -size 320x200 gradient:steelblue-orange "$tmp/in.png"
code="$(curl -s -o "$tmp/up.json" -w '%{http_code}' -m 60 -F "file=@$tmp/in.png;filename=container.png" \
  "$base/api/upload")"
[[ $code == 202 ]] || fail "upload through nginx answered $code: $(head -c 300 "$tmp/up.json")"
id="$(jq -r .id "$tmp/up.json")"
token="$(jq -r .owner_token "$tmp/up.json")"
echo "ok: upload accepted (202), id $id"

deadline=$((SECONDS + 120))
status=""
while ((SECONDS < deadline)); do
  code="$(curl -s -o "$tmp/info.json" -w '%{http_code}' -m 10 "$base/api/image/$id/info")"
  if [[ $code == 200 ]]; then
    status="$(jq -r .status "$tmp/info.json")"
    [[ $status == ready || $status == failed ]] && break
  fi
  sleep 0.2
done
[[ $status == ready ]] || fail "image $id ended '$status', want ready: $(head -c 400 "$tmp/info.json")"
echo "ok: image ready (processed by the containerised processor)"

url="$(jq -r '[.variants[] | select(.url != null and .url != "") | .url][0]' "$tmp/info.json")"
[[ -n $url && $url != null ]] || fail "the ready image has no variant URL: $(head -c 400 "$tmp/info.json")"
code="$(curl -s -o "$tmp/variant" -w '%{http_code}' -m 10 "$base$url")"
[[ $code == 200 && -s $tmp/variant ]] || fail "GET $url through nginx answered $code"
echo "ok: variant $url served through nginx"

for s in "${SERVICES[@]}"; do
  uids="$("${PODMAN[@]}" top "$NAME_PREFIX-$s" huser 2>/dev/null | tail -n +2 | sort -u | tr '\n' ' ')"
  [[ $uids == "10001 " ]] || fail "$s runs as uid(s) '$uids', want 10001 only"
done
echo "ok: every service process runs as uid 10001"

code="$(curl -s -o /dev/null -w '%{http_code}' -m 30 -X DELETE -H "Authorization: Bearer $token" \
  "$base/api/image/$id")"
[[ $code == 204 ]] || fail "DELETE answered $code, want 204"
code="$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$base/api/image/$id/info")"
[[ $code == 404 ]] || fail "info after DELETE answered $code, want 404"
code="$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$base$url")"
[[ $code == 404 ]] || fail "$url after DELETE answered $code, want 404"
echo "ok: deleted (204), then 404 in the API and under /media/"
echo "container figures: $figures"

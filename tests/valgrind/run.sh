#!/usr/bin/env bash
# tests/valgrind/run.sh <service> [<ctest build dir> <ON|OFF sanitizer>]
#
# Runs one service (metadata-svc, storage-svc, gateway or processor) under
# valgrind memcheck on ports of its own, exercises it for real against the
# running stack's servers (PostgreSQL, S3, Kafka and the stack's other
# services), stops it with SIGTERM and requires exit 0 within a deadline
# (past it, every thread's stack is taken through valgrind's gdbserver and
# printed before the kill, so a hang names where it waits).
# Then tests/valgrind/vgtool.py reads valgrind's XML: any definite leak (or
# any other memcheck error) with a frame in the project's own code fails.
# Leaks entirely inside libraries are suppressed by libs.supp (each entry
# says why it is the library's); unsuppressed ones are listed, not failed.
#
# valgrind cannot run ASan binaries: when the ctest build is a sanitizer
# build, a plain RelWithDebInfo build of just the needed targets is made in
# $IP_VALGRIND_BUILD_DIR (default build/valgrind; cmake -G Ninja, ninja -j2).
# The work files (valgrind XML/log, service log) stay in
# <that build>/valgrind-work/<service>/ for reading after a failure.
set -uo pipefail

svc="${1:?usage: run.sh metadata-svc|storage-svc|gateway|processor [build-dir ON|OFF]}"
ctest_build="${2:-}"
sanitized="${3:-ON}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
py="${IP_PYTHON:-python3}"

die() { echo "valgrind.$svc: FAIL: $*" >&2; exit 1; }
say() { echo "valgrind.$svc: $*"; }

# --- a plain build ------------------------------------------------------------
case "$sanitized" in
  ON | on | TRUE | true | 1 | YES | yes) plain="" ;;
  *) plain="$ctest_build" ;;
esac
if [[ -z $plain ]]; then
  plain="${IP_VALGRIND_BUILD_DIR:-$repo/build/valgrind}"
  [[ $plain = /* ]] || plain="$repo/$plain"
  if [[ ! -f $plain/build.ninja ]]; then
    say "configuring a plain build in $plain"
    mkdir -p "$plain"
    cmake -S "$repo" -B "$plain" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DIP_SANITIZE=OFF \
      >"$plain/valgrind-configure.log" 2>&1 || { cat "$plain/valgrind-configure.log"; die "cmake configure failed"; }
  fi
  say "building $svc and imgctl in $plain"
  ninja -C "$plain" -j2 "$svc" imgctl >"$plain/valgrind-build-$svc.log" 2>&1 ||
    { tail -50 "$plain/valgrind-build-$svc.log"; die "build failed"; }
fi
bin="$plain/$svc/$svc"
imgctl="$plain/common/imgctl"
[[ -x $bin && -x $imgctl ]] || die "no $bin or $imgctl"
command -v valgrind >/dev/null || die "valgrind is not installed"

work="$plain/valgrind-work/$svc"
rm -rf "$work" && mkdir -p "$work"

# The stack's addresses (scripts/test exports them; .env.example defaults).
meta_url="${IP_METADATA_RPC_URL:-tcp://127.0.0.1:7101}"
events_url="${IP_METADATA_EVENTS_URL:-tcp://127.0.0.1:7102}"
stor_url="${IP_STORAGE_RPC_URL:-tcp://127.0.0.1:7201}"
brokers="${IP_KAFKA_BROKERS:-127.0.0.1:19092}"
# Ports of the valgrind'ed copies (never the stack's).
VG_META=tcp://127.0.0.1:7131 VG_EVENTS=tcp://127.0.0.1:7132 VG_STOR=tcp://127.0.0.1:7231
VG_GW=127.0.0.1:8093 VG_METRICS=127.0.0.1:9113
VG_TOPIC=image-jobs.valgrind VG_DLQ=image-jobs.valgrind.dlq VG_GROUP=processor-valgrind

ctl() { "$imgctl" --timeout 60000 "$@"; }
# The id of a fresh image: a random UUID (the services accept any UUID).
new_id() { cat /proc/sys/kernel/random/uuid; }

# poll SECONDS CMD...: runs CMD until it succeeds; fails after the deadline
# (or at once when the valgrind'ed service has exited).
poll() {
  local end=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    [[ -z $vg_pid ]] || kill -0 "$vg_pid" 2>/dev/null || return 1
    sleep 0.2
  done
}

vg_pid=""
cleanup_cmds=()
cleanup() {
  local c
  for c in "${cleanup_cmds[@]}"; do eval "$c" >/dev/null 2>&1 || true; done
  if [[ -n $vg_pid ]] && kill -0 "$vg_pid" 2>/dev/null; then
    kill -KILL "$vg_pid" 2>/dev/null; wait "$vg_pid" 2>/dev/null
  fi
}
trap cleanup EXIT

vg_start() {
  # --errors-for-leak-kinds=definite: only definite leaks count as errors;
  # --fullpath-after= keeps full source paths, which vgtool.py matches.
  valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite \
    --errors-for-leak-kinds=definite --error-exitcode=99 --num-callers=40 \
    --suppressions="$here/libs.supp" --gen-suppressions=all --fullpath-after= \
    --xml=yes --xml-file="$work/valgrind.xml" --log-file="$work/valgrind.log" \
    "$bin" >"$work/stdout.log" 2>"$work/service.log" &
  vg_pid=$!
  say "started $bin under valgrind (pid $vg_pid)"
}

vg_stop() {
  kill -0 "$vg_pid" 2>/dev/null || { tail -30 "$work/service.log"; die "exited before SIGTERM"; }
  local t0=$SECONDS end=$((SECONDS + ${1:-120}))
  kill -TERM "$vg_pid"
  while kill -0 "$vg_pid" 2>/dev/null; do
    if ((SECONDS >= end)); then
      # Where every thread is, through valgrind's gdbserver, before the kill.
      timeout 90 gdb "$bin" -batch -ex "target remote | vgdb --pid=$vg_pid" \
        -ex 'thread apply all bt 30' >"$work/stacks.txt" 2>&1
      kill -KILL "$vg_pid"; wait "$vg_pid" 2>/dev/null; vg_pid=""
      tail -30 "$work/service.log"
      echo "--- thread stacks at the deadline ($work/stacks.txt)"
      grep -E '^Thread|^#' "$work/stacks.txt" | cut -c1-200 | head -200
      die "no exit within $((end - t0)) s of SIGTERM"
    fi
    sleep 0.2
  done
  wait "$vg_pid"; local rc=$?
  vg_pid=""
  say "exited $rc $((SECONDS - t0)) s after SIGTERM"
  "$py" "$here/vgtool.py" check "$work/valgrind.xml" "$repo" || {
    echo "(valgrind log: $work/valgrind.log, service log: $work/service.log)"
    die "memcheck errors in the project's code"
  }
  case $rc in
    0) ;;
    99) say "note: valgrind reported errors only inside libraries (see above; add them to libs.supp with a reason)" ;;
    *) tail -30 "$work/service.log"; die "exit status $rc (want 0)" ;;
  esac
  say "OK"
}

expect_fail() { if "$@" >/dev/null 2>&1; then die "expected an error from: $*"; fi; }

# VIPS_NOVECTOR: libvips' ORC run-time code generation writes machine code
# through a second mapping of a deleted file, which valgrind does not see
# change (wrong translations, then SIGSEGV); libvips' plain C paths instead.
common_env=(IP_LOG_LEVEL=info IP_RPC_WORKERS=4 VIPS_NOVECTOR=1)

# --- metadata-svc ---------------------------------------------------------------
test_metadata() {
  export "${common_env[@]}" IP_METADATA_RPC_URL="$VG_META" IP_METADATA_EVENTS_URL="$VG_EVENTS" IP_PG_POOL_SIZE=2
  vg_start
  poll 120 ctl --url "$VG_META" ping metadata || { tail -30 "$work/service.log"; die "not answering on $VG_META"; }
  local id now
  id="$(new_id)"; now=$(($(date +%s) * 1000000))
  cleanup_cmds+=("ctl --url '$meta_url' metadata DeleteImage '{\"id\":\"$id\"}'")
  ctl --url "$VG_META" metadata CreateImage '{"image":{"id":"'"$id"'","created_at_us":'"$now"',
    "filename":"vg.png","content_type":"image/png","size_bytes":123,"width":64,"height":48,
    "sha256":"'"$(printf vg | sha256sum | cut -d' ' -f1)"'","requested":["VARIANT_THUMBNAIL","VARIANT_RESIZED"]}}' >/dev/null ||
    die "CreateImage"
  ctl --url "$VG_META" metadata GetImage '{"id":"'"$id"'"}' | grep -q "$id" || die "GetImage"
  ctl --url "$VG_META" metadata MarkEnqueued '{"id":"'"$id"'","enqueued_at_us":'"$now"'}' >/dev/null || die "MarkEnqueued"
  ctl --url "$VG_META" metadata MarkProcessing '{"id":"'"$id"'"}' >/dev/null || die "MarkProcessing"
  ctl --url "$VG_META" metadata PutVariant '{"image_id":"'"$id"'","variant":{"kind":"VARIANT_THUMBNAIL",
    "status":"VARIANT_READY","object_key":"v/'"$id"'/thumbnail.jpg","width":32,"height":24,
    "size_bytes":100,"format":"jpeg"}}' >/dev/null || die "PutVariant"
  ctl --url "$VG_META" metadata PutVariant '{"image_id":"'"$id"'","variant":{"kind":"VARIANT_RESIZED",
    "status":"VARIANT_FAILED","error":"test"}}' >/dev/null || die "PutVariant failed variant"
  ctl --url "$VG_META" metadata FinishImage '{"id":"'"$id"'"}' >/dev/null || die "FinishImage"
  ctl --url "$VG_META" metadata FailImage '{"id":"'"$id"'","error":"valgrind test"}' >/dev/null || true
  ctl --url "$VG_META" metadata ListImages '{"limit":5}' >/dev/null || die "ListImages"
  ctl --url "$VG_META" metadata ListImages '{"limit":3,"last_created_at_us":'"$now"',"last_id":"'"$id"'"}' >/dev/null ||
    die "ListImages page 2"
  ctl --url "$VG_META" metadata ListStale '{"older_than_us":1,"limit":5}' >/dev/null || die "ListStale"
  # Errors: not found, bad id, bad request.
  expect_fail ctl --url "$VG_META" metadata GetImage '{"id":"'"$(new_id)"'"}'
  expect_fail ctl --url "$VG_META" metadata GetImage '{"id":"not-a-uuid"}'
  expect_fail ctl --url "$VG_META" metadata CreateImage '{}'
  expect_fail ctl --url "$VG_META" metadata ListImages '{"with_variant":9}' # no such kind
  ctl --url "$VG_META" metadata DeleteImage '{"id":"'"$id"'"}' >/dev/null || die "DeleteImage"
  expect_fail ctl --url "$VG_META" metadata GetImage '{"id":"'"$id"'"}'
  vg_stop 120
}

# --- storage-svc ----------------------------------------------------------------
test_storage() {
  export "${common_env[@]}" IP_STORAGE_RPC_URL="$VG_STOR"
  vg_start
  poll 120 ctl --url "$VG_STOR" ping storage || { tail -30 "$work/service.log"; die "not answering on $VG_STOR"; }
  local p="valgrind-test/$(new_id)" data
  cleanup_cmds+=("ctl --url '$stor_url' storage DeleteObjects '{\"prefix\":\"$p/\"}'")
  data="$(head -c 200000 /dev/urandom | base64 -w0)"
  printf '{"key":"%s/a.bin","data":"%s","content_type":"application/octet-stream","cache_control":"no-store"}' \
    "$p" "$data" | ctl --url "$VG_STOR" storage PutObject - >/dev/null || die "PutObject"
  ctl --url "$VG_STOR" storage PutObject '{"key":"'"$p"'/b.txt","data":"aGVsbG8=","content_type":"text/plain"}' \
    >/dev/null || die "PutObject small"
  ctl --url "$VG_STOR" storage GetObject '{"key":"'"$p"'/a.bin"}' | grep -qF "${data:0:64}" || die "GetObject"
  ctl --url "$VG_STOR" storage HeadObject '{"key":"'"$p"'/b.txt"}' >/dev/null || die "HeadObject"
  expect_fail ctl --url "$VG_STOR" storage GetObject '{"key":"'"$p"'/missing"}'
  expect_fail ctl --url "$VG_STOR" storage HeadObject '{"key":"'"$p"'/missing"}'
  expect_fail ctl --url "$VG_STOR" storage PutObject '{"key":""}'
  ctl --url "$VG_STOR" storage DeleteObjects '{"keys":["'"$p"'/a.bin"]}' >/dev/null || die "DeleteObjects keys"
  ctl --url "$VG_STOR" storage DeleteObjects '{"prefix":"'"$p"'/"}' >/dev/null || die "DeleteObjects prefix"
  expect_fail ctl --url "$VG_STOR" storage HeadObject '{"key":"'"$p"'/b.txt"}'
  vg_stop 120
}

# --- gateway --------------------------------------------------------------------
test_gateway() {
  export "${common_env[@]}" IP_GATEWAY_LISTEN="$VG_GW" IP_GATEWAY_THREADS=4 IP_GATEWAY_SWEEP_INTERVAL_MS=3600000 \
    IP_GATEWAY_SSE_HEARTBEAT_MS=1000 IP_UPLOAD_MAX_BYTES=1048576
  vg_start
  local base="http://$VG_GW" id tok code
  poll 120 curl -fsS -m 2 "$base/healthz" || { tail -30 "$work/service.log"; die "not answering on $base"; }
  # An SSE client stays connected through the uploads and the stop.
  curl -sS -N -m 600 "$base/events" >"$work/sse.out" 2>/dev/null &
  local sse=$!
  cleanup_cmds+=("kill $sse")
  "$py" "$here/vgtool.py" png "$work/a.png" 64 48
  # Each upload's 202 carries its owner token: the only thing (with an admin
  # key) that may read its original or delete it.
  curl -fsS -m 60 -F "file=@$work/a.png;type=image/png" "$base/upload?ops=thumbnail" >"$work/up1.json" ||
    die "upload"
  id="$(jq -r .id "$work/up1.json")" tok="$(jq -r .owner_token "$work/up1.json")"
  [[ $id =~ ^[0-9a-f-]{36}$ ]] || die "upload answered no id"
  [[ $tok =~ ^ipo_[A-Za-z0-9_-]{43}$ ]] || die "upload answered no owner token"
  cleanup_cmds+=("curl -sS -m 30 -X DELETE -H 'Authorization: Bearer $tok' '$base/image/$id'")
  curl -fsS -m 30 "$base/image/$id/info" | grep -q "$id" || die "info"
  curl -fsS -m 30 -o /dev/null "$base/image/$id" || die "GET variant"
  curl -fsS -m 30 -o /dev/null -H "Authorization: Bearer $tok" "$base/image/$id?variant=original" ||
    die "GET original with the owner token"
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' "$base/image/$id?variant=original")"
  [[ $code == 401 ]] || die "anonymous original answered $code, want 401"
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer ipk_not-a-key' "$base/images")"
  [[ $code == 401 ]] || die "a malformed key answered $code, want 401"
  curl -fsS -m 30 "$base/images?limit=5" >/dev/null || die "list"
  curl -fsS -m 30 -o /dev/null "$base/metrics" || die "metrics"
  # A raw-body upload, then bad ones: not an image (415), bad ops (400), unknown id (404),
  # bad id (400), too big (413), truncated (400).
  local id2 tok2
  curl -fsS -m 60 -H 'Content-Type: image/png' --data-binary "@$work/a.png" "$base/upload" >"$work/up2.json" ||
    die "raw upload"
  id2="$(jq -r .id "$work/up2.json")" tok2="$(jq -r .owner_token "$work/up2.json")"
  cleanup_cmds+=("curl -sS -m 30 -X DELETE -H 'Authorization: Bearer $tok2' '$base/image/$id2'")
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -F "file=@$here/run.sh;type=image/png" "$base/upload")"
  [[ $code == 415 ]] || die "bad upload answered $code, want 415"
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -F "file=@$work/a.png" "$base/upload?ops=nope")"
  [[ $code == 400 ]] || die "bad ops answered $code, want 400"
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' "$base/image/$(new_id)/info")"
  [[ $code == 404 ]] || die "unknown id answered $code, want 404"
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' "$base/image/xyz")"
  [[ $code == 400 ]] || die "bad id answered $code, want 400"
  # Over the limit (1 MiB here): by Content-Length, and chunked (grows past it).
  head -c 1500000 /dev/zero >"$work/big.bin"
  code="$(curl -sS -m 60 -o /dev/null -w '%{http_code}' -H 'Content-Type: image/png' \
    --data-binary "@$work/big.bin" "$base/upload")"
  [[ $code == 413 ]] || die "oversized upload answered $code, want 413"
  code="$(curl -sS -m 60 -o /dev/null -w '%{http_code}' -H 'Content-Type: image/png' \
    -H 'Transfer-Encoding: chunked' --data-binary "@$work/big.bin" "$base/upload")"
  [[ $code == 413 ]] || die "oversized chunked upload answered $code, want 413"
  # A multipart body cut short (no closing boundary).
  printf -- '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n' \
    >"$work/cut.bin"
  head -c 2000 "$work/a.png" >>"$work/cut.bin"
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -H 'Content-Type: multipart/form-data; boundary=XyZ' \
    --data-binary "@$work/cut.bin" "$base/upload")"
  [[ $code == 400 ]] || die "truncated multipart answered $code, want 400"
  curl -fsS -m 30 -I "$base/image/$id" >/dev/null || die "HEAD variant"
  # An SSE client that goes away by itself.
  curl -sS -N -m 2 "$base/events" >/dev/null 2>&1
  # Another image's owner token may not delete it (403); its own may.
  code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer $tok2" "$base/image/$id")"
  [[ $code == 403 ]] || die "delete with another image's token answered $code, want 403"
  for pair in "$id:$tok" "$id2:$tok2"; do
    code="$(curl -sS -m 30 -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer ${pair#*:}" \
      "$base/image/${pair%%:*}")"
    # 204: purged within the request; 202: left to the purger (storage-svc
    # under valgrind can be slower than IP_GATEWAY_DELETE_WAIT_MS).
    [[ $code == 204 || $code == 202 ]] || die "delete answered $code, want 204 or 202"
  done
  # The SSE stream saw this gateway's events (at least the upload's "pending").
  poll 60 grep -q "$id" "$work/sse.out" || die "no event for $id on the SSE stream"
  kill -0 "$sse" 2>/dev/null || die "the SSE connection ended early"
  vg_stop 120
  wait "$sse" 2>/dev/null
}

# --- processor ------------------------------------------------------------------
kafka_jar_dir() {
  local d
  for d in "${KAFKA_DIR:-}" "${IP_TOOLS_DIR:-$repo/var/tools}/kafka" "$repo/var/tools/kafka"; do
    [[ -n $d && -d $d/lib ]] && { echo "$d"; return 0; }
  done
  return 1
}

# make_image ID FILE put|noput: the row (stack metadata-svc), and the original
# o/ID (stack storage-svc) unless noput.
make_image() {
  local now sz
  now=$(($(date +%s) * 1000000)) sz=$(stat -c %s "$2")
  if [[ $3 == put ]]; then
    printf '{"key":"o/%s","data":"%s","content_type":"image/png"}' "$1" "$(base64 -w0 "$2")" |
      ctl --url "$stor_url" storage PutObject - >/dev/null || die "PutObject o/$1 (stack storage-svc)"
  fi
  ctl --url "$meta_url" metadata CreateImage '{"image":{"id":"'"$1"'","created_at_us":'"$now"',
    "filename":"vg.png","content_type":"image/png","size_bytes":'"$sz"',"width":200,"height":150,
    "sha256":"'"$(sha256sum "$2" | cut -d' ' -f1)"'","requested":["VARIANT_THUMBNAIL","VARIANT_RESIZED","VARIANT_WATERMARKED"]}}' \
    >/dev/null || die "CreateImage $1 (stack metadata-svc)"
}

# ensure_topic NAME: a topic of one partition, made if missing (Kafka's own
# TopicCommand, as scripts/stack makes the stack's), usable once it has a leader.
ensure_topic() {
  local t="$1" kd
  if ! kcat -L -b "$brokers" -t "$t" -m 10 -J 2>/dev/null |
      jq -e '.topics[] | select(.topic == "'"$t"'") | select(.partitions | length > 0)' >/dev/null; then
    kd="$(kafka_jar_dir)" || die "no Kafka jars (var/tools/kafka) to create $t"
    say "creating topic $t"
    java -Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$kd/lib/*" \
      org.apache.kafka.tools.TopicCommand --bootstrap-server "$brokers" --create --if-not-exists \
      --topic "$t" --partitions 1 --replication-factor 1 >"$work/topic.log" 2>&1 ||
      { cat "$work/topic.log"; die "creating $t failed"; }
  fi
  has_leader() {
    kcat -L -b "$brokers" -t "$1" -m 5 -J | jq -e '[.topics[] | select(.topic == "'"$1"'")
      | .partitions[] | select(.leader >= 0)] | length > 0'
  }
  poll 60 has_leader "$t" || die "topic $t has no leader"
}

test_processor() {
  # Its own topics (made once, 1 partition) and consumer group: the stack's
  # processors never see these jobs and this processor never sees theirs.
  ensure_topic "$VG_TOPIC"
  ensure_topic "$VG_DLQ"
  # Five jobs, in this order on the one partition: an unreadable message, a
  # job for an image that does not exist (deleted meanwhile), an image whose
  # pixel data is damaged (failed), an image whose original is missing in
  # storage (failed), and a good image made ready with all three variants.
  local good bad gone noorig
  good="$(new_id)" bad="$(new_id)" gone="$(new_id)" noorig="$(new_id)"
  "$py" "$here/vgtool.py" png "$work/good.png" 200 150
  "$py" "$here/vgtool.py" png "$work/bad.png" 200 150 bad
  local i
  for i in "$good" "$bad" "$noorig"; do
    cleanup_cmds+=("ctl --url '$meta_url' metadata DeleteImage '{\"id\":\"$i\"}'"
                   "ctl --url '$stor_url' storage DeleteObjects '{\"keys\":[\"o/$i\"],\"prefix\":\"v/$i/\"}'")
  done
  make_image "$good" "$work/good.png" put
  make_image "$bad" "$work/bad.png" put
  make_image "$noorig" "$work/good.png" noput
  head -c 100 /dev/urandom >"$work/job0.bin"
  "$py" "$here/vgtool.py" job "$gone" "$work/job1.bin"
  "$py" "$here/vgtool.py" job "$bad" "$work/job2.bin"
  "$py" "$here/vgtool.py" job "$noorig" "$work/job3.bin"
  "$py" "$here/vgtool.py" job "$good" "$work/job4.bin"
  kcat -P -b "$brokers" -t "$VG_TOPIC" -p 0 "$work"/job{0,1,2,3,4}.bin 2>"$work/kcat.log" ||
    { cat "$work/kcat.log"; die "producing the jobs"; }

  export "${common_env[@]}" IP_PROCESSOR_METRICS_LISTEN="$VG_METRICS" IP_KAFKA_TOPIC="$VG_TOPIC" \
    IP_KAFKA_DLQ_TOPIC="$VG_DLQ" IP_KAFKA_REGEN_TOPIC="" IP_KAFKA_GROUP="$VG_GROUP" \
    IP_PROCESSOR_WORKERS=1 IP_KAFKA_SESSION_TIMEOUT_MS=30000
  vg_start
  poll 120 curl -fsS -m 2 "http://$VG_METRICS/metrics" || { tail -30 "$work/service.log"; die "no metrics on $VG_METRICS"; }
  status_is() { ctl --url "$meta_url" metadata GetImage '{"id":"'"$1"'"}' | jq -e ".image.status == \"$2\""; }
  local want
  for want in "$good IMAGE_READY" "$bad IMAGE_FAILED" "$noorig IMAGE_FAILED"; do
    # shellcheck disable=SC2086
    poll 240 status_is $want || {
      ctl --url "$meta_url" metadata GetImage '{"id":"'"${want%% *}"'"}'; tail -30 "$work/service.log"
      die "image ${want%% *} did not become ${want#* }"
    }
  done
  # Every file the row names is stored (the keys carry the preset's version).
  local keys key
  keys="$(ctl --url "$meta_url" metadata GetImage '{"id":"'"$good"'"}' |
    jq -r '.image.variants[].files[].object_key')"
  [[ -n $keys ]] || die "image $good names no files"
  for key in $keys; do
    ctl --url "$stor_url" storage HeadObject '{"key":"'"$key"'"}' >/dev/null || die "no $key"
  done
  grep -q '"job.unreadable"' "$work/service.log" || die "the unreadable message was not seen"
  grep -q '"image_id":"'"$gone"'".*"outcome":"deleted"' "$work/service.log" ||
    die "the job of a missing image did not end as deleted"
  curl -fsS -m 10 -o /dev/null "http://$VG_METRICS/healthz" || true
  vg_stop 180

  # Second run: metadata-svc unreachable (a port nothing listens on), so a job
  # is transient, retried, sent to the dead-letter topic, and failing the
  # image is not recorded either.
  local lost
  lost="$(new_id)"
  work="$work/dlq"; mkdir -p "$work"
  "$py" "$here/vgtool.py" job "$lost" "$work/job.bin"
  kcat -P -b "$brokers" -t "$VG_TOPIC" -p 0 "$work/job.bin" 2>"$work/kcat.log" ||
    { cat "$work/kcat.log"; die "producing the job"; }
  export IP_METADATA_RPC_URL=tcp://127.0.0.1:7139 IP_RPC_TIMEOUT_MS=1000 IP_JOB_MAX_ATTEMPTS=2 IP_JOB_BACKOFF_MS=100 IP_JOB_BACKOFF_MAX_MS=500 IP_JOB_RETRY_HORIZON_MS=3000
  vg_start
  dead_lettered() { kcat -C -b "$brokers" -t "$VG_DLQ" -o beginning -e -q -f '%k\n' | grep -qx "$lost"; }
  poll 240 grep -q '"image_id":"'"$lost"'".*"outcome":"dlq"' "$work/service.log" || {
    tail -30 "$work/service.log"; die "the job was not dead-lettered"
  }
  poll 30 dead_lettered || die "no message keyed $lost on $VG_DLQ"
  vg_stop 180
}

case "$svc" in
  metadata-svc) test_metadata ;;
  storage-svc) test_storage ;;
  gateway) test_gateway ;;
  processor) test_processor ;;
  *) die "unknown service $svc" ;;
esac

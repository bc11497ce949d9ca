#!/usr/bin/env bash
# Infra tests through HTTP, with curl (SigV4-signed uploads, anonymous reads):
#   media  anonymous GET of a v/ object: 200 at the S3 endpoint and through
#          nginx /media/ (long-lived Cache-Control); of an o/ object: 403 at
#          the S3 endpoint and never 200 through nginx; after DELETE the
#          /media/ URL answers 404 at once (nginx caches nothing)
#   page   nginx serves the page at / (no-cache) with the security headers
#   api    nginx proxies /api/healthz to the gateway: 200; a body over the
#          upload limit is refused with 413 application/problem+json
# Configuration from the IP_* environment, defaults from .env.example.
set -euo pipefail

: "${IP_S3_ENDPOINT:=http://127.0.0.1:19000}"
: "${IP_S3_BUCKET:=images}"
: "${IP_S3_REGION:=us-east-1}"
: "${IP_S3_ACCESS_KEY:=imageproc-local}"
: "${IP_S3_SECRET_KEY:=imageproc-local-secret}"
: "${IP_HTTP_LISTEN:=127.0.0.1:8080}"
base="http://$IP_HTTP_LISTEN"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

s3() { # s3 METHOD KEY [FILE] -> prints the status code
  local m="$1" key="$2" file="${3:-}" hash args=()
  if [[ -n $file ]]; then
    hash="$(sha256sum "$file" | cut -d' ' -f1)"
    args=(--data-binary "@$file" -H 'Content-Type: image/png')
  else
    hash="$(printf '' | sha256sum | cut -d' ' -f1)"
  fi
  curl -s -o /dev/null -w '%{http_code}' -m 15 -X "$m" --aws-sigv4 "aws:amz:$IP_S3_REGION:s3" \
    --user "$IP_S3_ACCESS_KEY:$IP_S3_SECRET_KEY" -H "x-amz-content-sha256: $hash" "${args[@]}" \
    "$IP_S3_ENDPOINT/$IP_S3_BUCKET/$key"
}

code() { curl -s -o "$tmp/body" -D "$tmp/headers" -w '%{http_code}' -m 15 --path-as-is "$@"; }

header() { grep -i "^$1:" "$tmp/headers" | head -n1 | cut -d' ' -f2- | tr -d '\r'; }

want() { # want CODE DESCRIPTION CURL-ARGS...
  local w="$1" what="$2" got
  shift 2
  got="$(code "$@")"
  [[ $got == "$w" ]] || fail "$what: got $got, want $w"
  echo "ok: $what -> $got"
}

test_media() {
  local id="infra-$$-$(date +%s%N)"
  printf '\x89PNG\r\n\x1a\n infra %s' "$id" >"$tmp/obj"
  [[ $(s3 PUT "v/$id/thumbnail.png" "$tmp/obj") == 200 ]] || fail "signed PUT of v/$id"
  [[ $(s3 PUT "o/$id" "$tmp/obj") == 200 ]] || fail "signed PUT of o/$id"

  want 200 "anonymous GET v/ at the S3 endpoint" "$IP_S3_ENDPOINT/$IP_S3_BUCKET/v/$id/thumbnail.png"
  cmp -s "$tmp/body" "$tmp/obj" || fail "v/ bytes differ at the S3 endpoint"
  want 403 "anonymous GET o/ at the S3 endpoint" "$IP_S3_ENDPOINT/$IP_S3_BUCKET/o/$id"
  want 403 "anonymous listing of the bucket" "$IP_S3_ENDPOINT/$IP_S3_BUCKET/"
  [[ $(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary x "$IP_S3_ENDPOINT/$IP_S3_BUCKET/v/$id/evil.png") != 200 ]] ||
    fail "anonymous PUT into v/ was accepted"

  want 200 "GET /media/ through nginx" "$base/media/$id/thumbnail.png"
  cmp -s "$tmp/body" "$tmp/obj" || fail "/media/ bytes differ"
  [[ $(header Cache-Control) == *max-age=31536000* ]] || fail "/media/ Cache-Control: $(header Cache-Control)"
  [[ $(header Content-Type) == image/png ]] || fail "/media/ Content-Type: $(header Content-Type)"
  [[ -z $(header x-amz-request-id) ]] || fail "/media/ leaks S3 headers"
  # An Authorization header from the browser must not reach S3.
  want 200 "GET /media/ with a stray Authorization header" -H 'Authorization: Basic Zm9vOmJhcg==' "$base/media/$id/thumbnail.png"

  local got
  for path in "/media/../o/$id" "/media/%2e%2e/o/$id" "/_accel/o/$id" "/media/..%2fo/$id" "/images/o/$id"; do
    got="$(code "$base$path")"
    [[ $got != 200 ]] || fail "GET $path through nginx answered 200 (an original leaked)"
    echo "ok: GET $path through nginx -> $got"
  done
  want 404 "missing variant through nginx" "$base/media/$id/missing.png"
  [[ $(header Cache-Control) == no-store ]] || fail "a 404 under /media/ must not be cached: $(header Cache-Control)"

  [[ $(s3 DELETE "v/$id/thumbnail.png") == 204 ]] || fail "signed DELETE of v/$id"
  [[ $(s3 DELETE "o/$id") == 204 ]] || fail "signed DELETE of o/$id"
  want 404 "deleted variant through nginx" "$base/media/$id/thumbnail.png"
}

test_page() {
  want 200 "GET / through nginx" "$base/"
  [[ $(header Content-Type) == text/html* ]] || fail "/ Content-Type: $(header Content-Type)"
  [[ $(header Cache-Control) == no-cache ]] || fail "/ Cache-Control: $(header Cache-Control)"
  local csp
  csp="$(header Content-Security-Policy)"
  [[ $csp == *"script-src 'self'"* && $csp != *unsafe-inline* ]] || fail "CSP: $csp"
  [[ $(header X-Content-Type-Options) == nosniff ]] || fail "X-Content-Type-Options missing"
  [[ -n $(header Referrer-Policy) ]] || fail "Referrer-Policy missing"
  grep -qi '<html' "$tmp/body" || fail "/ is not an HTML page"
  want 404 "a missing file" "$base/no-such-file-$$.js"
}

test_api() {
  want 200 "GET /api/healthz through nginx" "$base/api/healthz"
  [[ -n $(header Content-Security-Policy) ]] || fail "/api/ answers lack the security headers"
  # nginx refuses a body over the upload limit itself, in the API's format.
  local limit="${IP_UPLOAD_MAX_BYTES:-52428800}"
  truncate -s $((limit + 2 * 1048576)) "$tmp/big"
  want 413 "an upload over the limit" -H 'Content-Type: image/png' --data-binary "@$tmp/big" "$base/api/upload"
  [[ $(header Content-Type) == application/problem+json ]] || fail "413 Content-Type: $(header Content-Type)"
}

case "${1:-}" in
  media) test_media ;;
  page) test_page ;;
  api) test_api ;;
  *)
    echo "usage: $0 media|page|api" >&2
    exit 2
    ;;
esac
echo "1 passed, 0 failed"

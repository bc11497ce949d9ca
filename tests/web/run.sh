#!/usr/bin/env bash
# Runs one browser scenario (specs/<name>.test.mjs) with node's test runner.
# Installs playwright-core from package-lock.json first when node_modules is
# missing or older than the lock (npm ci; no browser is downloaded: the tests
# drive Debian's /usr/bin/chromium).
# `run.sh unit/<name>` runs a plain node test of the page's modules
# (unit/<name>.test.mjs): no browser, no stack, no node_modules.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="${1:?usage: run.sh <scenario> | run.sh unit/<name>}"
cd "$here"

command -v node >/dev/null || { echo "run.sh: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }

case "$name" in
  unit/*) exec node --test --test-reporter=spec "${name}.test.mjs" ;;
esac
command -v "${IP_CHROMIUM:-/usr/bin/chromium}" >/dev/null \
  || { echo "run.sh: chromium is not installed (apt-get install chromium)" >&2; exit 1; }

if [ ! -f node_modules/playwright-core/package.json ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  (
    flock 9
    if [ ! -f node_modules/playwright-core/package.json ] \
       || [ package-lock.json -nt node_modules/.package-lock.json ]; then
      PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2
    fi
  ) 9>"${TMPDIR:-/tmp}/imageprocessor-web-npm.lock"
fi

exec node --test --test-reporter=spec "specs/${name}.test.mjs"

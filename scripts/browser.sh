#!/usr/bin/env bash
# Headless-browser tests of the web pages: tests/browser/*.test.mjs with node's test runner.
#
#   scripts/browser.sh [FILE...]        (default: every tests/browser/*.test.mjs)
#
# Installs what is missing by itself: Debian's chromium (apt-get) and the npm packages pinned in
# package.json (playwright-core drives the system chromium; no browser is ever downloaded). Each
# test starts its own `quartier serve` on a fresh SQLite database, and on a fresh PostgreSQL
# database too when QUARTIER_TEST_PG_URL is set (scripts/test-services.sh sets it: `make test`
# runs this inside it). Screenshots of every step land in target/screenshots/<backend>/<test>/.
#
# Environment:
#   QUARTIER_BIN               the quartier binary (default target/debug/quartier, built with
#                              cargo when missing)
#   QUARTIER_BROWSER_BACKENDS  e.g. "sqlite" to test one backend only
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)

log() { printf 'browser: %s\n' "$*" >&2; }
die() { printf 'browser: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
	if [[ $(id -u) -eq 0 ]]; then "$@"
	elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
	else return 1
	fi
}

apt_updated=0
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "need $* but apt-get is not available: install it yourself and re-run"
	if ((!apt_updated)); then
		log "apt-get update (for: $*)..."
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >/dev/null ||
			die "apt-get update failed: run as root (or with passwordless sudo), or install $* yourself"
		apt_updated=1
	fi
	log "apt-get install $* (can take a few minutes)..."
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" </dev/null >/dev/null ||
		die "apt-get install $* failed: install it yourself and re-run"
}

# --- chromium (Debian's; playwright never downloads one) ---
export CHROMIUM_PATH=${CHROMIUM_PATH:-/usr/bin/chromium}
if [[ ! -x $CHROMIUM_PATH ]]; then
	apt_install chromium chromium-driver
	[[ -x $CHROMIUM_PATH ]] || die "$CHROMIUM_PATH still missing after apt-get install chromium"
fi

# --- node and the pinned npm packages ---
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	apt_install nodejs npm
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
((node_major >= 20)) || die "node $(node -v) is too old: the tests need node 20 or newer"

export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
stamp=node_modules/.quartier-installed
if [[ ! -f $stamp || package.json -nt $stamp || (-f package-lock.json && package-lock.json -nt $stamp) ]]; then
	log "installing npm packages (package.json)..."
	if [[ -f package-lock.json ]]; then
		npm ci --no-audit --no-fund --loglevel=error >&2 || die "npm ci failed"
	else
		npm install --no-audit --no-fund --loglevel=error >&2 || die "npm install failed"
	fi
	touch "$stamp"
fi

# --- the server binary ---
export QUARTIER_BIN=${QUARTIER_BIN:-$root/target/debug/quartier}
if [[ ! -x $QUARTIER_BIN ]]; then
	command -v cargo >/dev/null 2>&1 || die "$QUARTIER_BIN is missing and cargo is not installed"
	log "building the quartier binary..."
	cargo build -p quartier-server --locked >&2
fi

# --- run ---
if [[ $# -gt 0 ]]; then
	files=("$@")
else
	shopt -s nullglob
	files=(tests/browser/*.test.mjs)
	shopt -u nullglob
fi
((${#files[@]})) || die "no tests in tests/browser/*.test.mjs"

if [[ -n ${QUARTIER_TEST_PG_URL:-} ]]; then backends="SQLite and PostgreSQL"; else backends="SQLite only (QUARTIER_TEST_PG_URL is not set)"; fi
log "running ${#files[@]} test file(s) on $backends; screenshots in target/screenshots/"
set +e
# One file at a time: each test runs its own server(s) and browser on a 2-core machine.
node --test --test-concurrency=1 --test-reporter=spec "${files[@]}"
status=$?
set -e
log "done in $(($(date +%s) - start)) s (exit $status)"
exit "$status"

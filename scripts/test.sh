#!/usr/bin/env bash
# `make test`: format check, clippy, then every test against real services (a throwaway
# PostgreSQL cluster and an SMTP sink, started by scripts/test-services.sh unless
# QUARTIER_TEST_PG_URL / DATABASE_URL point at a server already).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

step() { printf '\n==> %s\n' "$*" >&2; }

if ! command -v cargo >/dev/null 2>&1; then
	echo "cargo is not installed: install Rust from https://rustup.rs and run make test again" >&2
	exit 1
fi

step "cargo fmt --check"
cargo fmt --all -- --check || { echo "Formatting differs: run 'make fmt' and commit the result." >&2; exit 1; }

step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "building the tests"
if cargo nextest --version >/dev/null 2>&1; then
	cargo nextest run --workspace --locked --no-run
	runner=(cargo nextest run --workspace --locked --no-fail-fast --failure-output final)
else
	echo "cargo-nextest not found; using cargo test (install it with: cargo install cargo-nextest)" >&2
	cargo test --workspace --locked --no-run
	runner=(cargo test --workspace --locked --no-fail-fast)
fi

# The server binary the browser tests and schemathesis start (scripts/browser.sh, scripts/schemathesis.sh).
cargo build -p quartier-server --locked

step "running the tests on SQLite and PostgreSQL, then schemathesis and the browser tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# One set of services for all: schemathesis against the OpenAPI document (scripts/schemathesis.sh,
# R8: each role on a seeded `quartier serve`, SQLite and PostgreSQL) and the browser tests
# (scripts/browser.sh, headless Chromium against `quartier serve`) run after the cargo tests with
# the same PostgreSQL and SMTP sink, also when the cargo tests failed; any failing fails make test.
# shellcheck disable=SC2016
scripts/test-services.sh bash -c '"$@"; rc=$?
	printf "\n==> schemathesis (scripts/schemathesis.sh)\n" >&2; scripts/schemathesis.sh || { [ "$rc" -ne 0 ] || rc=1; }
	printf "\n==> browser tests (scripts/browser.sh)\n" >&2; scripts/browser.sh || { [ "$rc" -ne 0 ] || rc=1; }
	exit "$rc"' \
	run-tests "${runner[@]}" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e

sqlite=$(grep -cE '(PASS|ok).*(::|_)sqlite( |$)' "$log" || true)
postgres=$(grep -cE '(PASS|ok).*(::|_)postgres( |$)' "$log" || true)
browser_sqlite=$(grep -cE '^✔ .*\(sqlite\)' "$log" || true)
browser_postgres=$(grep -cE '^✔ .*\(postgres\)' "$log" || true)
st_runs=$(grep -cE '^(sqlite|postgres) +(customer|helper|operator|anonymous) +[0-9]' "$log" || true)
st_ok=$(grep -cE '^(sqlite|postgres) +(customer|helper|operator|anonymous) +[0-9].* ok$' "$log" || true)
printf '\nmake test: %s integration tests passed on SQLite, %s on PostgreSQL; schemathesis: %s of %s role runs passed; browser tests: %s passed on SQLite, %s on PostgreSQL; %ss in all (exit %s)\n' \
	"$sqlite" "$postgres" "$st_ok" "$st_runs" "$browser_sqlite" "$browser_postgres" "$(( $(date +%s) - start ))" "$status" >&2
exit "$status"

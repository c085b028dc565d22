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

# The server binary the browser tests, schemathesis and the chaos runs start (scripts/browser.sh,
# scripts/schemathesis.sh, scripts/chaos.sh), and the chaos harness itself.
cargo build -p quartier-server -p quartier-chaos --locked

step "running the tests on SQLite and PostgreSQL, then schemathesis, the chaos runs and the browser tests"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
# One set of services for all: schemathesis against the OpenAPI document (scripts/schemathesis.sh,
# R8: each role on a seeded `quartier serve`, SQLite and PostgreSQL) and the browser tests
# (scripts/browser.sh, headless Chromium against `quartier serve`) run after the cargo tests with
# the same PostgreSQL and SMTP sink, also when the cargo tests failed; any failing fails make test.
# Between them, R3/R4 (scripts/chaos.sh, short tier): kill -9 of the server under 2,000 booking
# attempts on SQLite and on PostgreSQL, and the PostgreSQL cluster restarted twice under load.
# shellcheck disable=SC2016
scripts/test-services.sh bash -c '"$@"; rc=$?
	printf "\n==> schemathesis (scripts/schemathesis.sh)\n" >&2; scripts/schemathesis.sh || { [ "$rc" -ne 0 ] || rc=1; }
	printf "\n==> chaos: kill -9 and database restarts under load (scripts/chaos.sh)\n" >&2; scripts/chaos.sh || { [ "$rc" -ne 0 ] || rc=1; }
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
chaos_runs=$(grep -cE '^chaos: r[34]-[a-z0-9-]+ took' "$log" || true)
chaos_ok=$(grep -cE '^  PASS: every invariant holds' "$log" || true)
printf '\nmake test: %s integration tests passed on SQLite, %s on PostgreSQL; schemathesis: %s of %s role runs passed; chaos (R3/R4): %s of %s runs passed; browser tests: %s passed on SQLite, %s on PostgreSQL; %ss in all (exit %s)\n' \
	"$sqlite" "$postgres" "$st_ok" "$st_runs" "$chaos_ok" "$chaos_runs" "$browser_sqlite" "$browser_postgres" "$(( $(date +%s) - start ))" "$status" >&2
exit "$status"

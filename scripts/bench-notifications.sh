#!/usr/bin/env bash
# `make bench-notifications`: outbox -> local SMTP throughput and booking latency with the SMTP
# server up and down.
#
#   scripts/bench-notifications.sh [ARGS...]
#
# ARGS go to `quartier-bench notifications` (see `cargo run -p quartier-bench -- notifications --help`):
#   --messages N        messages per outbox run (default 5000)
#   --sink-messages N   messages per sink-capacity run (default 5000)
#   --bookings N        timed bookings per condition, SMTP up and SMTP down (default 400)
#   --backends LIST     sqlite,postgres (default both)      --no-python   skip the aiosmtpd sink
#   --batch N / --concurrency N   the outbox worker's batch size and senders (default: the settings')
#
# PostgreSQL: QUARTIER_BENCH_PG_URL when set; else a throwaway cluster started by
# scripts/test-services.sh, which also provides .venv/ with aiosmtpd for the Python sink. The
# benchmark creates its own databases and SMTP sinks and removes them at the end.
# Writes target/bench/notifications.json.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)

log() { printf 'bench-notifications: %s\n' "$*" >&2; }

log "building quartier-bench (release)..."
cargo build --release -q -p quartier-bench

run=(cargo run --release -q -p quartier-bench -- notifications "$@")
if [[ -n ${QUARTIER_BENCH_PG_URL:-} ]]; then
	log "using QUARTIER_BENCH_PG_URL from the environment"
	"${run[@]}"
else
	scripts/test-services.sh bash -c \
		'export QUARTIER_BENCH_PG_URL="$QUARTIER_TEST_PG_URL"; exec "$@"' bench "${run[@]}"
fi
log "done in $(($(date +%s) - T0)) s (build, services and benchmark)"

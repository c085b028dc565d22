#!/usr/bin/env bash
# The reliability battery's R5 (docs: /work/shared/reference/reliability.md): an SMTP outage under
# bookings, measured by `quartier-bench outage` (bench/src/outage.rs) on SQLite and PostgreSQL.
#
#   scripts/smtp-outage.sh [--soak] [ARGS...]
#
# The SMTP stub (scripts/smtp_sink.py, one per backend, driven through its control channel) is up,
# then down (port closed) for the outage window, then answers 451 4.3.0, then is up again with one
# recipient refused with 550. Bookings arrive at a steady rate throughout (open loop); SMTP up is
# measured for 30 s before the outage and 30 s after the recovery.
#
#   quick (default)  window 60 s, 451 for 20 s, 1,000 bookings during the outage (12.5/s);
#                    outbox backoff base 1 s, cap 15 s (R5's PR tier): drain limit 75 s.
#                    Figures: target/bench/smtp-outage.json.
#   --soak           window 10 min, 451 for 150 s, 10,000 bookings during the outage (the same
#                    ~13/s); backoff base 2 s (the default) and cap 2 min, so the cap is reached
#                    during the outage (the default cap of 15 min never is in 10 minutes: 2 + 4 +
#                    ... + 512 s > 600 s) and "cap + 60 s" = 3 min is a real bound. About 17
#                    minutes per backend. Figures: target/soak/smtp-outage.json (read by
#                    scripts/soak.sh).
#
# ARGS go to `quartier-bench outage` and override the above (see `--help`), e.g. --backends sqlite.
# Pass/fail: the figures' "result"; the exit status is non-zero when an invariant failed.
# PostgreSQL: QUARTIER_TEST_PG_URL (or QUARTIER_BENCH_PG_URL) when set, as inside
# scripts/test-services.sh (make soak); else this script runs itself inside it.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)

log() { printf 'smtp-outage: %s\n' "$*" >&2; }
all_args=("$@")

mode=(--window-secs 60 --tempfail-secs 20 --bookings 1000 --baseline-secs 60
	--backoff-base-ms 1000 --backoff-cap-ms 15000
	--label "R5 SMTP outage (60 s)" --json target/bench/smtp-outage.json)
if [[ ${1:-} == --soak ]]; then
	shift
	mode=(--window-secs 600 --tempfail-secs 150 --bookings 10000 --baseline-secs 60
		--backoff-base-ms 2000 --backoff-cap-ms 120000
		--label "R5 SMTP outage (10 min)" --json target/soak/smtp-outage.json)
fi

if [[ -z ${QUARTIER_BENCH_PG_URL:-} && -z ${QUARTIER_TEST_PG_URL:-} ]]; then
	log "starting PostgreSQL and the SMTP stub's Python through scripts/test-services.sh"
	exec scripts/test-services.sh "$0" "${all_args[@]}"
fi
export QUARTIER_BENCH_PG_URL=${QUARTIER_BENCH_PG_URL:-$QUARTIER_TEST_PG_URL}

log "building quartier-bench (release)..."
cargo build --release -q --locked -p quartier-bench

rc=0
target/release/quartier-bench outage "${mode[@]}" "$@" || rc=$?
log "done in $(($(date +%s) - T0)) s (exit $rc)"
exit "$rc"

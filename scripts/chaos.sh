#!/usr/bin/env bash
# R3 and R4 of the reliability battery (docs: /work/shared/reference/reliability.md), run by
# target/debug/quartier-chaos against `quartier serve` child processes:
#
#   scripts/chaos.sh          short tier (make test): R3 kill -9 under load with 2,000 booking
#                             attempts on SQLite and on PostgreSQL, R4 PostgreSQL restarted twice
#                             under mixed load
#   scripts/chaos.sh --soak   long tier (make soak; also SOAK=1): R3 with 10,000 attempts x seeds
#                             1, 2, 3 on each backend, R4 with 5 restarts
#
# Run it inside scripts/test-services.sh: PostgreSQL comes from QUARTIER_TEST_PG_URL, and R4
# restarts that throwaway cluster (TEST_PG_DATA_DIR, TEST_PG_BIN_DIR). Without them only the
# SQLite runs happen (and the table says so).
#
# Builds nothing: uses target/debug/quartier (QUARTIER_BIN) and target/debug/quartier-chaos
# (CHAOS_BIN). Every run writes target/chaos/<run>.json and keeps its journal and server log in
# target/chaos/<run>/; at the end one table of all figures is printed (CHAOS_NO_TABLE=1: not, for
# `make soak`, which prints its own). Exits non-zero when any run fails an invariant.
#
# Environment: CHAOS_ATTEMPTS, CHAOS_SEEDS ("1 2 3"), CHAOS_RESTARTS, CHAOS_BACKENDS
# ("sqlite postgres"), CHAOS_R4 (0 to skip R4).
set -uo pipefail
cd "$(dirname "$0")/.."

soak=${SOAK:-0}
[[ ${1:-} == --soak ]] && soak=1
if ((soak)); then
	attempts=${CHAOS_ATTEMPTS:-10000} seeds=${CHAOS_SEEDS:-"1 2 3"} restarts=${CHAOS_RESTARTS:-5}
else
	attempts=${CHAOS_ATTEMPTS:-2000} seeds=${CHAOS_SEEDS:-1} restarts=${CHAOS_RESTARTS:-2}
fi
backends=${CHAOS_BACKENDS:-"sqlite postgres"}
bin=${QUARTIER_BIN:-target/debug/quartier}
chaos=${CHAOS_BIN:-target/debug/quartier-chaos}
for b in "$bin" "$chaos"; do
	[[ -x $b ]] || { echo "chaos: $b not found; build it first: cargo build -p quartier-server -p quartier-chaos" >&2; exit 2; }
done

rc=0
files=()
t0=$(date +%s)
run() {
	local name=$1
	shift
	printf '\n==> quartier-chaos %s\n' "$*" >&2
	local t=$(date +%s)
	"$chaos" "$@" --bin "$bin" --json "target/chaos/$name.json" || rc=1
	files+=("target/chaos/$name.json")
	printf 'chaos: %s took %ss\n' "$name" "$(($(date +%s) - t))" >&2
}

for backend in $backends; do
	if [[ $backend == postgres && -z ${QUARTIER_TEST_PG_URL:-} ]]; then
		echo "chaos: QUARTIER_TEST_PG_URL is not set: skipping R3 on PostgreSQL (run inside scripts/test-services.sh)" >&2
		continue
	fi
	for seed in $seeds; do
		run "r3-$backend-seed$seed" r3 --backend "$backend" --attempts "$attempts" --seed "$seed"
	done
done
if [[ ${CHAOS_R4:-1} != 0 ]]; then
	if [[ -n ${QUARTIER_TEST_PG_URL:-} && -n ${TEST_PG_DATA_DIR:-} ]]; then
		run "r4-postgres" r4 --restarts "$restarts" --seed "${seeds%% *}"
	else
		echo "chaos: no restartable PostgreSQL cluster (TEST_PG_DATA_DIR): skipping R4 (run inside scripts/test-services.sh)" >&2
	fi
fi

if [[ ${CHAOS_NO_TABLE:-0} != 1 ]]; then
	"$chaos" table "${files[@]}" || rc=1
fi
printf '\nchaos: %s runs in %ss (exit %s)\n' "${#files[@]}" "$(($(date +%s) - t0))" "$rc" >&2
exit "$rc"

#!/usr/bin/env bash
# `make bench-matching`: the in-process match index against PostGIS on the same synthetic world.
#
#   scripts/bench-matching.sh [ARGS...]
#
# ARGS go to `quartier-bench matching` (see `cargo run -p quartier-bench -- matching --help`):
#   --sizes 100k,1m   world sizes (default both)     --postgis-1m   load the 1M world into PostGIS too
#   --queries N       timed in-process queries       --pg-queries N timed PostGIS queries
#   --no-postgis      in-process only (no PostgreSQL, no apt)
#
# PostgreSQL: QUARTIER_BENCH_PG_URL when set (it needs PostGIS and btree_gist); else a throwaway
# cluster started by scripts/test-services.sh. PostGIS is installed with apt when missing
# (postgresql-<major>-postgis-3 for the PostgreSQL that test-services.sh will run; apt-get update
# once; sudo -n when not root). The benchmark creates its own database and drops it at the end.
# Writes target/bench/matching.json and target/bench/postgis-plan-<size>.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)

log() { printf 'bench-matching: %s\n' "$*" >&2; }
die() {
	printf 'bench-matching: ERROR: %s\n' "$*" >&2
	exit 1
}

as_root() {
	if [[ $(id -u) -eq 0 ]]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		return 1
	fi
}

APT_UPDATED=0
apt_install() {
	command -v apt-get >/dev/null 2>&1 || die "need $* but apt-get is not available: install it yourself and re-run"
	if ((!APT_UPDATED)); then
		log "apt-get update (for: $*)..."
		as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >/dev/null ||
			die "apt-get update failed: run as root (or with passwordless sudo), or install $* yourself"
		APT_UPDATED=1
	fi
	log "apt-get install $* (can take a minute)..."
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null >/dev/null ||
		die "apt-get install $* failed: run as root (or with passwordless sudo), or install $* yourself"
}

# The PostgreSQL server binaries scripts/test-services.sh will use (same search order).
find_pg_bin() {
	local p d
	if p=$(command -v pg_ctl 2>/dev/null) && command -v initdb >/dev/null 2>&1; then
		d=$(dirname "$(readlink -f "$p")")
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			echo "$d"
			return 0
		fi
	fi
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

ensure_postgis() {
	local bin major share
	if ! bin=$(find_pg_bin); then
		apt_install postgresql postgresql-contrib
		bin=$(find_pg_bin) || die "no PostgreSQL server binaries even after apt-get install postgresql"
	fi
	major=$("$bin/postgres" -V | awk '{print $3}' | cut -d. -f1)
	share=$("$bin/pg_config" --sharedir 2>/dev/null || echo "/usr/share/postgresql/$major")
	if [[ ! -f $share/extension/postgis.control ]]; then
		apt_install "postgresql-$major-postgis-3"
		[[ -f $share/extension/postgis.control ]] ||
			die "postgis.control still missing in $share/extension after installing postgresql-$major-postgis-3"
	fi
	log "PostgreSQL $major with PostGIS ($bin)"
}

no_postgis=0
for a in "$@"; do
	[[ $a == --no-postgis ]] && no_postgis=1
done

log "building quartier-bench (release)..."
cargo build --release -q -p quartier-bench

run=(cargo run --release -q -p quartier-bench -- matching "$@")
if ((no_postgis)); then
	"${run[@]}"
elif [[ -n ${QUARTIER_BENCH_PG_URL:-} ]]; then
	log "using QUARTIER_BENCH_PG_URL from the environment"
	"${run[@]}"
else
	ensure_postgis
	scripts/test-services.sh bash -c \
		'export QUARTIER_BENCH_PG_URL="$QUARTIER_TEST_PG_URL"; exec "$@"' bench "${run[@]}"
fi
log "done in $(($(date +%s) - T0)) s (build, services and benchmark)"

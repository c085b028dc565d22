#!/usr/bin/env bash
# Start the services Quartier's test suite needs, run a command, tear down.
#
#   scripts/test-services.sh CMD [ARGS...]
#
# Exports, for CMD:
#   QUARTIER_TEST_PG_URL        postgres://postgres@127.0.0.1:PORT/postgres
#                               (taken as is when already set; else DATABASE_URL
#                               when it starts with postgres; else a throwaway
#                               cluster started here: trust auth, fsync=off)
#   QUARTIER_TEST_SMTP_HOST     127.0.0.1
#   QUARTIER_TEST_SMTP_PORT     port of scripts/smtp_sink.py
#   QUARTIER_TEST_MAILDIR       where the sink writes <epoch_ns>-<uuid4>.eml
#   QUARTIER_TEST_SMTP_CONTROL  http://127.0.0.1:M  (POST /mode: ok | tempfail |
#                               permfail:<address> | down; see smtp_sink.py)
#   TEST_PG_DATA_DIR, TEST_PG_BIN_DIR, TEST_PG_LOG, TEST_PG_USER
#                               only when the throwaway cluster was started here:
#                               its data dir, the dir of its pg_ctl, its server
#                               log, and the user pg_ctl must run as (postgres
#                               when this script runs as root, else empty); for
#                               tests that restart the cluster (quartier-chaos r4).
#                               Not QUARTIER_* on purpose: the server refuses
#                               unknown QUARTIER_* settings.
#
# Everything it starts lives under one temp dir ${TMPDIR:-/tmp}/quartier-test.*
# and is stopped and removed on exit (also on INT/TERM). Dirs left behind by a
# run that was killed with SIGKILL are cleaned up by the next run. Installs what
# is missing (PostgreSQL, python3-venv via apt-get; aiosmtpd into .venv via pip).
# Exits with CMD's exit code.
set -euo pipefail

AIOSMTPD_VERSION=1.4.6
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
VENV="$REPO_ROOT/.venv"
TMP_BASE=${TMPDIR:-/tmp}
TMP_BASE=${TMP_BASE%/}
T0=$(date +%s)

log() { printf 'test-services: %s\n' "$*" >&2; }
die() {
	printf 'test-services: ERROR: %s\n' "$1" >&2
	shift
	local line
	for line in "$@"; do printf 'test-services:   %s\n' "$line" >&2; done
	exit 1
}

if [[ $# -eq 0 ]]; then
	printf 'usage: %s CMD [ARGS...]\n' "$0" >&2
	exit 2
fi

IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1

# ---------------------------------------------------------------- helpers ----

as_root() {
	if ((IS_ROOT)); then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo -n "$@"
	else
		return 1
	fi
}

APT_UPDATED=0
apt_install() {
	command -v apt-get >/dev/null 2>&1 ||
		die "need to install $* but apt-get is not available" \
			"install it with your package manager and re-run"
	local aptlog="$WORKDIR/apt.log"
	if ((!APT_UPDATED)); then
		log "apt-get update (for: $*)..."
		if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >"$aptlog" 2>&1; then
			tail -n 15 "$aptlog" >&2 || true
			die "apt-get update failed (see above)" \
				"run as root (or with passwordless sudo), or install $* yourself and re-run"
		fi
		APT_UPDATED=1
	fi
	log "apt-get install $* (can take a minute)..."
	if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
		"$@" </dev/null >"$aptlog" 2>&1; then
		tail -n 15 "$aptlog" >&2 || true
		die "apt-get install $* failed (see above)" \
			"run as root (or with passwordless sudo), or install $* yourself and re-run"
	fi
}

# Free TCP ports on 127.0.0.1, all distinct (held open together while picked).
free_ports() {
	python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Run a PostgreSQL server binary as the right user (initdb refuses root).
as_pg() {
	if ((IS_ROOT)); then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	else
		"$@"
	fi
}

# Stop what a run left behind when it was killed without a chance to clean up.
sweep_stale() {
	local d owner pid
	for d in "$TMP_BASE"/quartier-test.*; do
		[[ -d $d && -f $d/owner.pid ]] || continue
		owner=$(cat "$d/owner.pid" 2>/dev/null || true)
		[[ $owner =~ ^[0-9]+$ ]] || continue
		kill -0 "$owner" 2>/dev/null && continue
		log "removing leftovers of an earlier run: $d"
		if [[ -f $d/smtp_sink.pid ]]; then
			pid=$(cat "$d/smtp_sink.pid" 2>/dev/null || true)
			if [[ $pid =~ ^[0-9]+$ ]] && grep -qa smtp_sink "/proc/$pid/cmdline" 2>/dev/null; then
				kill -TERM "$pid" 2>/dev/null || true
			fi
		fi
		if [[ -f $d/pg/data/postmaster.pid && -f $d/pg_bin ]]; then
			as_pg "$(cat "$d/pg_bin")/pg_ctl" -D "$d/pg/data" stop -m immediate -w -t 10 >/dev/null 2>&1 || true
		fi
		rm -rf "$d" || true
	done
}

# --------------------------------------------------------------- teardown ----

WORKDIR=""
SINK_PID=""
PG_STARTED=0
PG_BIN=""
PGDATA_DIR=""

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	set +e
	if [[ -n $SINK_PID ]]; then
		kill -TERM "$SINK_PID" 2>/dev/null
		local i
		for ((i = 0; i < 50; i++)); do
			kill -0 "$SINK_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SINK_PID" 2>/dev/null
		wait "$SINK_PID" 2>/dev/null
	fi
	if ((PG_STARTED)) && [[ -f $PGDATA_DIR/postmaster.pid ]]; then
		as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" stop -m immediate -w -t 20 >/dev/null 2>&1 ||
			log "warning: could not stop the test PostgreSQL in $PGDATA_DIR"
	fi
	if [[ -n $WORKDIR && -d $WORKDIR ]]; then
		rm -rf "$WORKDIR" || log "warning: could not remove $WORKDIR"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

command -v python3 >/dev/null 2>&1 || die "python3 not found" "install it (apt-get install -y python3) and re-run"

sweep_stale
WORKDIR=$(mktemp -d "$TMP_BASE/quartier-test.XXXXXX")
echo $$ >"$WORKDIR/owner.pid"
chmod 755 "$WORKDIR" # the postgres user must reach its data dir when we are root

PORTS=$(free_ports 3) || die "could not pick free ports with python3"
read -r PG_PORT SMTP_PORT CONTROL_PORT <<<"$PORTS"

# ------------------------------------------------------------- PostgreSQL ----

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

pg_major() { "$PG_BIN/postgres" -V | awk '{print $3}' | cut -d. -f1; }

pg_has_btree_gist() {
	local share
	share=$("$PG_BIN/pg_config" --sharedir 2>/dev/null) ||
		share="/usr/share/postgresql/$(pg_major)"
	[[ -f $share/extension/btree_gist.control ]]
}

start_postgres() {
	if ! PG_BIN=$(find_pg_bin); then
		apt_install postgresql postgresql-contrib
		PG_BIN=$(find_pg_bin) || die "PostgreSQL server binaries (initdb, pg_ctl) not found even after apt-get install postgresql" \
			"install a PostgreSQL server, or set QUARTIER_TEST_PG_URL=postgres://USER@HOST:PORT/DB to use an existing one"
	fi
	if ! pg_has_btree_gist; then
		if command -v apt-get >/dev/null 2>&1; then
			apt_install postgresql-contrib
		fi
		pg_has_btree_gist || log "warning: btree_gist extension not found for $PG_BIN; the tests need it (Debian: postgresql-contrib)"
	fi
	echo "$PG_BIN" >"$WORKDIR/pg_bin"

	local pgroot="$WORKDIR/pg"
	mkdir -p "$pgroot"
	if ((IS_ROOT)); then
		if ! id postgres >/dev/null 2>&1; then
			log "creating system user postgres (initdb refuses to run as root)"
			useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /bin/sh postgres ||
				die "could not create the postgres system user" "create it (useradd -r postgres) and re-run"
		fi
		chown postgres: "$pgroot"
		as_pg test -w "$pgroot" || die "user postgres cannot write to $pgroot" \
			"a parent directory of TMPDIR=$TMP_BASE is not accessible to other users; run with TMPDIR=/tmp"
	fi
	PGDATA_DIR="$pgroot/data"
	local sockdir="$pgroot/run"
	as_pg mkdir -p "$sockdir"
	if ((${#sockdir} > 90)); then
		sockdir="" # too long for a unix socket path: TCP only
	fi

	local locale_args=(--no-locale -E UTF8)
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
		locale_args=(--locale=C.UTF-8 -E UTF8)
	fi
	if ! as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" --auth=trust -U postgres "${locale_args[@]}" -N \
		>"$pgroot/initdb.log" 2>&1; then
		tail -n 20 "$pgroot/initdb.log" >&2
		die "initdb failed (see above)" "set QUARTIER_TEST_PG_URL to use an existing server instead"
	fi

	PG_STARTED=1 # from here on, cleanup stops it (harmless if start fails)
	local opts="-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='$sockdir'"
	opts+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	opts+=" -c max_connections=200 -c dynamic_shared_memory_type=mmap"
	if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$pgroot/server.log" -o "$opts" -w -t 30 start \
		>"$pgroot/pg_ctl.log" 2>&1; then
		tail -n 20 "$pgroot/server.log" "$pgroot/pg_ctl.log" >&2 2>/dev/null
		die "PostgreSQL did not start on 127.0.0.1:$PG_PORT within 30 s (see above)" \
			"set QUARTIER_TEST_PG_URL to use an existing server instead"
	fi
	local isready="$PG_BIN/pg_isready" i
	[[ -x $isready ]] || isready=$(command -v pg_isready || true)
	for ((i = 0; i < 60; i++)); do
		if [[ -n $isready ]]; then
			"$isready" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres && break
		else
			port_open "$PG_PORT" && break
		fi
		sleep 0.5
	done
	((i < 60)) || die "PostgreSQL on 127.0.0.1:$PG_PORT is not ready after 30 s" "see $pgroot/server.log"
	export QUARTIER_TEST_PG_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres"
	export TEST_PG_DATA_DIR="$PGDATA_DIR" TEST_PG_BIN_DIR="$PG_BIN" TEST_PG_LOG="$pgroot/server.log" TEST_PG_USER=""
	if ((IS_ROOT)); then TEST_PG_USER=postgres; fi
	log "postgres $("$PG_BIN/postgres" -V | awk '{print $3}'): $QUARTIER_TEST_PG_URL (throwaway cluster in $PGDATA_DIR)"
}

if [[ -n ${QUARTIER_TEST_PG_URL:-} ]]; then
	log "postgres: using QUARTIER_TEST_PG_URL from the environment"
elif [[ ${DATABASE_URL:-} == postgres* ]]; then
	export QUARTIER_TEST_PG_URL="$DATABASE_URL"
	log "postgres: using DATABASE_URL from the environment"
else
	start_postgres
fi

# ------------------------------------------------------------- SMTP sink ----

venv_ok() {
	"$VENV/bin/python" - "$AIOSMTPD_VERSION" >/dev/null 2>&1 <<'PY'
import sys, importlib.metadata as m
import aiosmtpd.smtp
sys.exit(m.version("aiosmtpd") != sys.argv[1])
PY
}

ensure_venv() {
	venv_ok && return 0
	if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
		log "creating virtualenv $VENV"
		if ! python3 -m venv --clear "$VENV" >"$WORKDIR/venv.log" 2>&1; then
			rm -rf "$VENV"
			# Debian's python3 has no ensurepip without python3-venv.
			apt_install python3-venv
			python3 -m venv "$VENV" >"$WORKDIR/venv.log" 2>&1 || {
				cat "$WORKDIR/venv.log" >&2
				die "python3 -m venv $VENV failed (see above)" "install python3-venv and re-run"
			}
		fi
	fi
	log "pip install aiosmtpd==$AIOSMTPD_VERSION into $VENV..."
	if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -q \
		"aiosmtpd==$AIOSMTPD_VERSION" </dev/null >"$WORKDIR/pip.log" 2>&1; then
		tail -n 15 "$WORKDIR/pip.log" >&2
		die "pip install aiosmtpd==$AIOSMTPD_VERSION failed (see above)" \
			"check network access to PyPI, or delete $VENV and re-run"
	fi
	venv_ok || die "aiosmtpd==$AIOSMTPD_VERSION still not importable from $VENV" "delete $VENV and re-run"
}

start_smtp_sink() {
	# Two concurrent runs must not build the same .venv at once: lock the repo dir.
	if command -v flock >/dev/null 2>&1 && exec 9<"$REPO_ROOT"; then
		flock -w 300 9 || die "timed out waiting for another run to set up $VENV"
		ensure_venv
		flock -u 9
		exec 9>&-
	else
		ensure_venv
	fi

	local maildir="$WORKDIR/maildir" sinklog="$WORKDIR/smtp_sink.log" i
	mkdir -p "$maildir"
	"$VENV/bin/python" -u "$SCRIPT_DIR/smtp_sink.py" --host 127.0.0.1 --port "$SMTP_PORT" \
		--maildir "$maildir" --control-port "$CONTROL_PORT" --parent-pid $$ \
		</dev/null >"$sinklog" 2>&1 &
	SINK_PID=$!
	echo "$SINK_PID" >"$WORKDIR/smtp_sink.pid"
	for ((i = 0; i < 150; i++)); do
		if grep -q '^smtp_sink listening on' "$sinklog" 2>/dev/null && port_open "$SMTP_PORT"; then
			break
		fi
		if ! kill -0 "$SINK_PID" 2>/dev/null; then
			cat "$sinklog" >&2
			SINK_PID=""
			die "smtp_sink.py exited at start (see above)"
		fi
		sleep 0.1
	done
	((i < 150)) || {
		cat "$sinklog" >&2
		die "smtp_sink.py is not listening on 127.0.0.1:$SMTP_PORT after 15 s (see above)"
	}
	export QUARTIER_TEST_SMTP_HOST=127.0.0.1
	export QUARTIER_TEST_SMTP_PORT="$SMTP_PORT"
	export QUARTIER_TEST_MAILDIR="$maildir"
	export QUARTIER_TEST_SMTP_CONTROL="http://127.0.0.1:$CONTROL_PORT"
	log "smtp sink: 127.0.0.1:$SMTP_PORT -> $maildir (control $QUARTIER_TEST_SMTP_CONTROL)"
}

start_smtp_sink

# -------------------------------------------------------------------- run ----

log "services ready in $(($(date +%s) - T0)) s; running: $*"
# CMD runs as a child we wait for, so a TERM/INT sent to this script alone is
# passed on to it at once (a foreground command would delay our traps until it
# ended). The ( ) keeps SIGINT/SIGQUIT at their defaults for CMD (bash ignores
# them for a plain `cmd &`), and <&0 keeps our stdin (not /dev/null).
CMD_PID=""
forward() { [[ -n $CMD_PID ]] && kill -"$1" "$CMD_PID" 2>/dev/null || true; }
if { : <&0; } 2>/dev/null; then
	(exec "$@") <&0 &
else
	(exec "$@") </dev/null & # stdin closed (CI)
fi
CMD_PID=$!
trap 'forward INT' INT
trap 'forward TERM' TERM
set +e
while :; do
	wait "$CMD_PID"
	CMD_RC=$?
	# wait returns early (>128) when a trapped signal arrives; CMD may still run.
	if ((CMD_RC > 128)) && kill -0 "$CMD_PID" 2>/dev/null; then
		continue
	fi
	break
done
set -e
exit "$CMD_RC"

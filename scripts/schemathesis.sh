#!/usr/bin/env bash
# R8 (docs: /work/shared/reference/reliability.md): schemathesis against /openapi.json, once per
# role (demo customer, demo helper, demo operator, anonymous), on SQLite and on PostgreSQL.
#
#   scripts/schemathesis.sh            PR tier: >= 1,000 generated requests per role and backend
#   scripts/schemathesis.sh --soak     long tier (also SOAK=1): >= 5,000 per role and backend
#
# Every run must end with no failure of the checks below: no 5xx, every status code, content type
# and body documented in the OpenAPI document (responses validated against their schemas), schema-
# invalid input rejected with a 4xx, schema-valid input not refused except with 400/401/403/404/
# 409/429 (400 because the server checks rules JSON Schema cannot state; see schemathesis.toml),
# authentication not ignored, deleted resources gone, 405 with a true Allow for other methods.
# A run with fewer generated requests than the tier's minimum fails too.
#
# Builds nothing: uses target/debug/quartier (QUARTIER_BIN). For each backend it starts the way
# tests/browser/harness.mjs does: a fresh data dir (and a fresh database on the PostgreSQL server
# of QUARTIER_TEST_PG_URL, dropped afterwards), `quartier seed --demo`, `quartier serve` on a free
# port. `make test` runs it inside scripts/test-services.sh, which provides PostgreSQL and the SMTP
# sink; without QUARTIER_TEST_PG_URL only SQLite is tested. Installs schemathesis (pinned) into
# .venv with pip when missing.
#
# Not fuzzed, for the signed-in roles only (the anonymous run covers them: they answer 401):
#   POST /v1/auth/logout   ends the session whose token the rest of the run uses: every later
#                          request of that role would be 401 and test nothing
#   GET  /v1/stream        a server-sent event stream that never ends: every request would time out
# DELETE /v1/me (erasure) stays in: it needs the account's password, which the generator does not
# know (the demo password is in no example of the document).
#
# Environment:
#   QUARTIER_BIN          the server binary (default target/debug/quartier)
#   ST_BACKENDS           e.g. "sqlite" to test one backend only (default: sqlite, and postgres
#                         when QUARTIER_TEST_PG_URL is set)
#   ST_ROLES              e.g. "customer anonymous" (default: customer helper operator anonymous)
#   ST_MAX_EXAMPLES       test cases per operation and phase (default 10; soak 100)
#   ST_MIN_REQUESTS       minimum generated requests per run (default 1000; soak 5000)
#   ST_SEED               schemathesis seed, to replay a run (default: random, printed)
#   ST_WORKERS            schemathesis workers (default 2)
# Reports (NDJSON, JUnit) and logs land in target/schemathesis/<backend>-<role>.*
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
start=$(date +%s)

SCHEMATHESIS_VERSION=4.32.5
VENV="$root/.venv"
OUT="$root/target/schemathesis"
DEMO_PASSWORD=quartier-demo

log() { printf 'schemathesis: %s\n' "$*" >&2; }
die() { printf 'schemathesis: ERROR: %s\n' "$*" >&2; exit 1; }

soak=${SOAK:-0}
for arg in "$@"; do
	case $arg in
	--soak | soak) soak=1 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 0 ;;
	*) die "unknown argument: $arg (usage: $0 [--soak])" ;;
	esac
done
[[ $soak == 0 || $soak == 1 ]] || soak=1
if ((soak)); then
	tier=soak
	max_examples=${ST_MAX_EXAMPLES:-100}
	min_requests=${ST_MIN_REQUESTS:-5000}
	request_timeout=30
else
	tier=PR
	max_examples=${ST_MAX_EXAMPLES:-10}
	min_requests=${ST_MIN_REQUESTS:-1000}
	request_timeout=20
fi
workers=${ST_WORKERS:-2}
read -r -a roles <<<"${ST_ROLES:-customer helper operator anonymous}"
if [[ -n ${ST_BACKENDS:-} ]]; then
	read -r -a backends <<<"${ST_BACKENDS//,/ }"
elif [[ -n ${QUARTIER_TEST_PG_URL:-} ]]; then
	backends=(sqlite postgres)
else
	backends=(sqlite)
	log "QUARTIER_TEST_PG_URL is not set: SQLite only (run inside scripts/test-services.sh for PostgreSQL too)"
fi

# --- the binary (built by cargo before this runs) ---
BIN=${QUARTIER_BIN:-$root/target/debug/quartier}
[[ -x $BIN ]] || die "$BIN is missing: build it first (cargo build -p quartier-server)"
command -v python3 >/dev/null 2>&1 || die "python3 not found"
command -v curl >/dev/null 2>&1 || die "curl not found"

# --- schemathesis, pinned, in the project's venv (shared with scripts/test-services.sh) ---
st_ok() { [[ -x $VENV/bin/st ]] && [[ $("$VENV/bin/st" --version 2>/dev/null) == *" $SCHEMATHESIS_VERSION" ]]; }
ensure_schemathesis() {
	st_ok && return 0
	if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
		log "creating virtualenv $VENV"
		python3 -m venv "$VENV" >&2 || die "python3 -m venv $VENV failed (install python3-venv, or run scripts/test-services.sh once)"
	fi
	log "pip install schemathesis==$SCHEMATHESIS_VERSION into $VENV..."
	"$VENV/bin/python" -m pip install --disable-pip-version-check -q "schemathesis==$SCHEMATHESIS_VERSION" </dev/null >&2 ||
		die "pip install schemathesis==$SCHEMATHESIS_VERSION failed: check network access to PyPI"
	st_ok || die "schemathesis $SCHEMATHESIS_VERSION still not found in $VENV: delete $VENV and re-run"
}
# Two concurrent runs must not build the same .venv at once (scripts/test-services.sh locks the same).
if command -v flock >/dev/null 2>&1 && exec 9<"$root"; then
	flock -w 300 9 || die "timed out waiting for another run to set up $VENV"
	ensure_schemathesis
	flock -u 9
	exec 9>&-
else
	ensure_schemathesis
fi

# --- a seeded server per backend ---
work=$(mktemp -d "${TMPDIR:-/tmp}/quartier-st.XXXXXX")
server_pid=""
pg_db=""
stop_server() {
	if [[ -n $server_pid ]]; then
		kill -TERM "$server_pid" 2>/dev/null || true
		for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
		server_pid=""
	fi
	if [[ -n $pg_db ]]; then
		psql -q -X "$QUARTIER_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1 ||
			log "warning: could not drop database $pg_db"
		pg_db=""
	fi
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_server
	rm -rf "$work"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_server BACKEND: sets url; the server log (copied to $OUT at the end) is $work/out/BACKEND-server.log
start_server() {
	local backend=$1 data="$work/$1" port db_url
	mkdir -p "$data"
	port=$(free_port)
	db_url="sqlite://$data/quartier.db"
	if [[ $backend == postgres ]]; then
		[[ -n ${QUARTIER_TEST_PG_URL:-} ]] || die "postgres: QUARTIER_TEST_PG_URL is not set (run through scripts/test-services.sh)"
		command -v psql >/dev/null 2>&1 || die "psql not found (Debian: apt-get install postgresql-client)"
		pg_db="quartier_st_$(python3 -c 'import uuid; print(uuid.uuid4().hex)')"
		psql -q -X -v ON_ERROR_STOP=1 "$QUARTIER_TEST_PG_URL" -c "CREATE DATABASE $pg_db" >/dev/null ||
			die "could not create database $pg_db on $QUARTIER_TEST_PG_URL"
		db_url="${QUARTIER_TEST_PG_URL%/*}/$pg_db"
	fi
	local env=(
		"PATH=$PATH" "HOME=${HOME:-/tmp}"
		QUARTIER_HOST=127.0.0.1 "QUARTIER_PORT=$port" "QUARTIER_DATA_DIR=$data" "QUARTIER_DATABASE_URL=$db_url"
		QUARTIER_LOG_LEVEL=warn
		# Cheap password hashing, and no address limit: the fuzzer signs in a lot.
		QUARTIER_PASSWORD_MEMORY_KIB=1024 QUARTIER_PASSWORD_ITERATIONS=1 QUARTIER_LOGIN_ATTEMPTS_PER_ADDRESS=100000
		# One token lasts a whole soak run.
		QUARTIER_ACCESS_TOKEN_TTL_SECS=7200
	)
	if [[ -n ${QUARTIER_TEST_SMTP_HOST:-} && -n ${QUARTIER_TEST_SMTP_PORT:-} ]]; then
		env+=("QUARTIER_SMTP_URL=smtp://$QUARTIER_TEST_SMTP_HOST:$QUARTIER_TEST_SMTP_PORT")
	fi
	local server_log="$work/out/$backend-server.log"
	env -i "${env[@]}" "$BIN" seed --demo >"$work/out/$backend-seed.log" 2>&1 || {
		cat "$work/out/$backend-seed.log" >&2
		die "$backend: quartier seed --demo failed (see above)"
	}
	env -i "${env[@]}" "$BIN" serve >"$server_log" 2>&1 &
	server_pid=$!
	url="http://127.0.0.1:$port"
	local i
	for ((i = 0; i < 600; i++)); do
		kill -0 "$server_pid" 2>/dev/null || { cat "$server_log" >&2; server_pid=""; die "$backend: quartier serve exited at start (see above)"; }
		curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$server_log" >&2
	die "$backend: quartier serve not ready after 60 s (see above)"
}

# token EMAIL: an access token of a demo account
token() {
	curl -fsS -X POST "$url/v1/auth/login" -H 'Content-Type: application/json' \
		-d "{\"email\":\"$1\",\"password\":\"$DEMO_PASSWORD\"}" |
		python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}

# Counts the requests of one run from its NDJSON report: total, 2xx, 4xx, 5xx.
count_requests() {
	python3 - "$1" <<'PY'
import json, sys
total = ok = client = server = 0
with open(sys.argv[1]) as f:
    for line in f:
        event = json.loads(line)
        finished = event.get("ScenarioFinished")
        if not finished:
            continue
        for interaction in (finished.get("recorder", {}).get("interactions") or {}).values():
            response = interaction.get("response")
            if response is None:
                continue
            total += 1
            status = response.get("status_code", 0)
            ok += 200 <= status < 300
            client += 400 <= status < 500
            server += status >= 500
print(total, ok, client, server)
PY
}

# Each run writes into its own temp dir and copies its files to $OUT when a role is done, so two
# runs at once (two worktrees' make test) do not count each other's reports.
mkdir -p "$OUT" "$work/out"
log "schemathesis $SCHEMATHESIS_VERSION, $tier tier: -n $max_examples per operation, at least $min_requests requests per run; backends: ${backends[*]}; roles: ${roles[*]}"
summary=()
failed=0
for backend in "${backends[@]}"; do
	start_server "$backend"
	log "$backend: demo server on $url"
	for role in "${roles[@]}"; do
		args=()
		case $role in
		customer) email=customer1@demo.quartier.ch ;;
		helper) email=helper001@demo.quartier.ch ;;
		operator) email=operator@demo.quartier.ch ;;
		anonymous) email="" ;;
		*) die "unknown role $role (customer, helper, operator, anonymous)" ;;
		esac
		if [[ -n $email ]]; then
			tok=$(token "$email") || die "$backend: could not sign in as $email"
			args+=(-H "Authorization: Bearer $tok")
			# See the header: logging out ends this run's session; the event stream never ends.
			args+=(--exclude-operation-id logout --exclude-path /v1/stream)
		fi
		[[ -n ${ST_SEED:-} ]] && args+=(--seed "$ST_SEED")
		name="$backend-$role"
		r="$work/out/$name"
		t0=$(date +%s)
		set +e
		"$VENV/bin/st" --config-file "$root/scripts/schemathesis.toml" run "$url/openapi.json" \
			"${args[@]}" \
			--max-examples "$max_examples" --workers "$workers" --request-timeout "$request_timeout" \
			--generation-database none --no-color \
			--report ndjson,junit --report-ndjson-path "$r.ndjson" --report-junit-path "$r.xml" \
			</dev/null >"$r.log" 2>&1
		rc=$?
		set -e
		secs=$(($(date +%s) - t0))
		read -r total ok client server < <(count_requests "$r.ndjson" 2>/dev/null || echo "0 0 0 0")
		failures=$(grep -oE '[0-9]+ failures?' "$r.log" | tail -n 1 | grep -oE '^[0-9]+' || true)
		cp "$r".* "$OUT/"
		verdict=ok
		if ((rc != 0)); then
			verdict="FAILED (st exit $rc)"
		elif ((total < min_requests)); then
			verdict="FAILED (fewer than $min_requests requests)"
		fi
		if [[ $verdict != ok ]]; then
			failed=1
			# The failures section of schemathesis' own report, for the log of make test.
			printf '\n---- %s: schemathesis output (full log: %s) ----\n' "$name" "$OUT/$name.log" >&2
			if grep -q '^=* FAILURES =*$' "$r.log"; then
				awk '/^=+ FAILURES =+$/ { on = 1 } on && n++ < 400' "$r.log" >&2
			else
				tail -n 60 "$r.log" >&2
			fi
		fi
		summary+=("$(printf '%-9s %-10s %9s %6s %6s %5s %9s %6s  %s' "$backend" "$role" "$total" "$ok" "$client" "$server" "${failures:-0}" "${secs}s" "$verdict")")
		log "$name: $total requests in ${secs}s: $verdict"
	done
	stop_server
	cp "$work/out/$backend"-se*.log "$OUT/"
done

printf '\nschemathesis %s (%s tier, -n %s, minimum %s requests per run); reports in %s\n' \
	"$SCHEMATHESIS_VERSION" "$tier" "$max_examples" "$min_requests" "${OUT#"$root"/}" >&2
printf '%-9s %-10s %9s %6s %6s %5s %9s %6s  %s\n' backend role requests 2xx 4xx 5xx failures time verdict >&2
printf '%s\n' "${summary[@]}" >&2
printf 'schemathesis: %s in %ss\n' "$([[ $failed == 0 ]] && echo passed || echo FAILED)" "$(($(date +%s) - start))" >&2
exit "$failed"

#!/usr/bin/env bash
# `make soak`: the long tier of the reliability battery (docs: /work/shared/reference/reliability.md),
# inside scripts/test-services.sh (a throwaway PostgreSQL cluster and an SMTP sink):
#
#   R3  kill -9 under load: 10,000 booking attempts x seeds 1, 2, 3, on SQLite and on PostgreSQL
#   R4  PostgreSQL restarted 5 times under mixed load
#       (both: scripts/chaos.sh --soak, figures in target/chaos/*.json)
#   R5  SMTP outage of 10 minutes: scripts/smtp-outage.sh --soak when that script exists; it
#       writes its figures to target/soak/smtp-outage.json
#   R8  schemathesis with >= 5,000 requests per role and backend: scripts/schemathesis.sh --soak
#       when it exists; its summary lines land in target/soak/schemathesis.json
#
# Then one table of every figure; a missing part shows as "not run". Exits non-zero when any part
# failed. Takes a long time (R3 alone: ~6 runs of several minutes; the SMTP outage 10+ minutes).
# Builds the server and quartier-chaos first (one cargo build).
set -uo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

cargo build -p quartier-server -p quartier-chaos --locked || exit 1
mkdir -p target/soak target/chaos
rm -f target/chaos/r3-*.json target/chaos/r4-*.json target/soak/smtp-outage.json target/soak/schemathesis.json

# shellcheck disable=SC2016
scripts/test-services.sh bash -c '
	rc=0
	CHAOS_NO_TABLE=1 scripts/chaos.sh --soak || rc=1
	if [[ -x scripts/smtp-outage.sh ]]; then
		printf "\n==> SMTP outage (scripts/smtp-outage.sh --soak)\n" >&2
		scripts/smtp-outage.sh --soak || rc=1
	fi
	if [[ -x scripts/schemathesis.sh ]]; then
		printf "\n==> schemathesis (scripts/schemathesis.sh --soak)\n" >&2
		t=$(date +%s)
		log=target/soak/schemathesis.log
		scripts/schemathesis.sh --soak 2>&1 | tee "$log"
		st=${PIPESTATUS[0]}
		[[ $st -eq 0 ]] || rc=1
		python3 - "$log" "$st" "$(($(date +%s) - t))" >target/soak/schemathesis.json <<"PY"
import json, re, sys
log, status, secs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = {"exit status": status, "time": secs + " s"}
for line in open(log, errors="replace"):
    m = re.match(r"^(sqlite|postgres) +(customer|helper|operator|anonymous) +(.*)$", line.rstrip())
    if m:
        out[m.group(1) + " " + m.group(2)] = re.sub(" +", " ", m.group(3))
print(json.dumps(out, indent=1))
PY
	fi
	exit "$rc"
'
rc=$?

files=(target/chaos/r3-sqlite-seed*.json target/chaos/r3-postgres-seed*.json target/chaos/r4-postgres.json)
target/debug/quartier-chaos table "${files[@]}" \
	--extra "R5 SMTP outage (10 min)=target/soak/smtp-outage.json" \
	--extra "R8 schemathesis (soak)=target/soak/schemathesis.json" || rc=1
printf '\nmake soak: %ss in all (exit %s)\n' "$(($(date +%s) - start))" "$rc" >&2
exit "$rc"

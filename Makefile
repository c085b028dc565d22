# Thin aliases; the scripts they call do the work. CI runs `make test` (see .ci/run).
CARGO ?= cargo
BIN := target/debug/quartier

.PHONY: run test soak check fmt lint build bench bench-matching bench-notifications

## Serve the demo on http://localhost:8080 (embedded SQLite under data/, demo city on first start).
run: build
	$(BIN) seed --demo
	$(BIN) serve

build:
	$(CARGO) build -p quartier-server

## Formatting, lints, and every test on SQLite and PostgreSQL (starts its own PostgreSQL and SMTP server).
test:
	scripts/test.sh

## The long tier of the reliability battery: kill -9 under load (10,000 bookings x 3 seeds, SQLite
## and PostgreSQL), PostgreSQL restarted 5 times, the 10-minute SMTP outage and schemathesis with
## >= 5,000 requests (when their scripts exist); prints one table of the figures. Takes long.
soak:
	scripts/soak.sh

check:
	$(CARGO) check --workspace --all-targets

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

## Every benchmark.
bench: bench-matching bench-notifications

## In-process match index vs PostGIS on 100k and 1M synthetic helpers (installs PostGIS with apt
## when missing; ARGS="--postgis-1m" also loads 1M into PostGIS). Figures in target/bench/matching.json.
bench-matching:
	scripts/bench-matching.sh $(ARGS)

## Outbox -> local SMTP server in messages per second (and each sink's own capacity), booking
## latency p50/p99 with the SMTP server up and down, on SQLite and PostgreSQL (starts its own
## PostgreSQL and sinks). Figures in target/bench/notifications.json.
bench-notifications:
	scripts/bench-notifications.sh $(ARGS)

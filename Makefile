# Thin aliases; the scripts they call do the work. CI runs `make test` (see .ci/run).
CARGO ?= cargo
BIN := target/debug/quartier

.PHONY: run test check fmt lint build bench

## Serve the demo on http://localhost:8080 (embedded SQLite under data/, demo city on first start).
run: build
	$(BIN) seed --demo
	$(BIN) serve

build:
	$(CARGO) build -p quartier-server

## Formatting, lints, and every test on SQLite and PostgreSQL (starts its own PostgreSQL and SMTP server).
test:
	scripts/test.sh

check:
	$(CARGO) check --workspace --all-targets

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench:
	@echo "No benchmarks yet: they arrive with the matching, booking and notification issues." >&2
	@exit 1

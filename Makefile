# campus-voip: every command a developer or CI runs. Each target bootstraps first (installs
# what a fresh machine lacks, skips what is there).
SHELL := /bin/bash
.DEFAULT_GOAL := help
NIGHTLY := $(shell cat rust-nightly-version)
JEST := tools/node_modules/.bin/jest
TSC := tools/node_modules/.bin/tsc

.PHONY: help bootstrap build demo test lint test-rust test-wasm test-js test-miniprogram \
        test-simulate test-types test-pack test-e2e bench bench-service fuzz clean

help:
	@echo "make demo   build and serve the browser demo at http://127.0.0.1:8080/ (the contact service --dev behind it)"
	@echo "make test   run every test (Rust, wasm in Node and Chrome, JS, Mini Program, e2e)"
	@echo "make build  build dist/npm and dist/miniprogram-plugin (with the size report)"
	@echo "make bench  native benchmark of the core, and the shim benchmark in Node"
	@echo "make bench-service  the contact service under wrk (rps, p50/p99, group commit, memory)"
	@echo "make bench-calls    calls over the service: ring latency, memory per idle event stream"
	@echo "make bench-pg       the service on PostgreSQL: one and two replicas, ring latency across them"
	@echo "make fuzz   run every fuzz target (FUZZ_SECONDS=60 each by default)"

bootstrap:
	@scripts/bootstrap.sh

build: bootstrap
	node scripts/build.mjs

# The demo pages and, behind them on the same port, the contact service in --dev (its SQLite file
# under ./data/). DEMO_FLAGS: --lan (listen beyond loopback), --local (no service), --port N.
demo: build
	cargo build -p campus-voip-server
	node scripts/serve-demo.mjs $(DEMO_FLAGS)

test: bootstrap lint test-rust test-server build test-wasm test-js test-js-http test-pg test-miniprogram test-simulate test-types test-pack test-packaging test-e2e
	@echo "all tests passed"

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --lib --target wasm32-unknown-unknown -- -D warnings

test-rust:
	cargo test --workspace --exclude campus-voip-server

# The contact service (server/): its HTTP, store and CLI tests.
.PHONY: test-server serve-dev
test-server:
	cargo test -p campus-voip-server

# The contact service in --dev (generated credentials, /v1/dev/*), its SQLite file under ./data/;
# it prints the credentials and its address.
serve-dev:
	cargo run -p campus-voip-server -- --dev --database sqlite://./data/campus-voip.sqlite3 serve

test-wasm:
	wasm-pack test --node -- --test wasm_node
	wasm-pack test --headless --chrome --chromedriver /usr/bin/chromedriver -- --test wasm_browser

# The node suite on the local backend, then the benchmark's pure-JS bar against the built
# package (one story on both, every outcome compared), so the bar \`make bench\` measures against
# keeps doing the same work.
test-js:
	node --test tests/js/
	node benches/purejs/selfcheck.mjs

# The same node suite against the contact service (one --dev service per test world, its clock
# frozen and moved by the tests); the tests about the local backend itself are skipped, each with
# its reason.
.PHONY: test-js-http
test-js-http:
	cargo build -p campus-voip-server
	CAMPUS_VOIP_BACKEND=http node --test tests/js/

# The service's Rust suite and the node suite over HTTP again, on PostgreSQL: scripts/pg.sh
# installs PostgreSQL if missing, starts a throw-away cluster on a free loopback port (initdb in
# a temporary folder, as the postgres user) and stops and removes it at the end, also on failure.
# The node suite runs on two replicas of one database: parents on one, devices on the other.
.PHONY: test-pg
test-pg:
	cargo build -p campus-voip-server
	scripts/pg.sh run -- bash -c 'cargo test -p campus-voip-server && CAMPUS_VOIP_TEST_REPLICAS=2 CAMPUS_VOIP_BACKEND=http node --test tests/js/'

test-miniprogram:
	node tests/miniprogram/run.mjs

test-simulate:
	$(JEST) --config tests/simulate/jest.config.js

test-types:
	$(TSC) -p tests/types/tsconfig.json

test-pack:
	node tests/pack/run.mjs

# The packed npm package in fresh Vite, webpack, esbuild, Rollup, import-map, Node, tsc and Mini
# Program consumers (README "Using the package in your toolchain").
.PHONY: test-packaging
test-packaging:
	node tests/packaging/run.mjs

# The demo in Chromium on the contact service (the device and a phone in separate browser
# contexts, calls with WebRTC media) and on the in-page local backend; axe-core on every page.
test-e2e:
	cargo build -p campus-voip-server
	node tests/e2e/demo.e2e.mjs

bench: build
	cargo bench --bench core
	node benches/shim.mjs

# The contact service (its production build, --profile server) under wrk on loopback (installs wrk with apt-get if missing):
# reads against /healthz, acknowledged mutations with and without group commit, RSS and database
# size at 100 000 students (benches/SERVICE.md). BENCH_SECONDS, BENCH_REPS, BENCH_CONNS tune it.
bench-service:
	cargo build --profile server -p campus-voip-server --bins --example populate
	node benches/service.mjs

# Calls over the service: ring-to-listener latency, memory per idle event stream.
.PHONY: bench-calls
bench-calls:
	cargo build --profile server -p campus-voip-server --bins
	node benches/calls.mjs

# The service on PostgreSQL (a throw-away cluster, scripts/pg.sh): reads and accepts under wrk
# with one and two replicas, then ring latency on one replica and across two.
.PHONY: bench-pg
bench-pg:
	cargo build --profile server -p campus-voip-server --bins
	scripts/pg.sh run -- bash -c 'export CAMPUS_VOIP_TEST_DB_POOL=16; node benches/pg.mjs && CALLS=200 STREAMS=0 node benches/calls.mjs && CALLS=200 STREAMS=0 CAMPUS_VOIP_TEST_REPLICAS=2 node benches/calls.mjs'

fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf dist target/mvp

# SendOps — `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Reuse one cargo target directory outside the clone (CI clones afresh every run).
export CARGO_TARGET_DIR ?= $(HOME)/.cache/sendops/target
export CLICKHOUSE_URL ?= http://127.0.0.1:8123
export CARGO_TERM_COLOR ?= never
BIN := $(CARGO_TARGET_DIR)/debug
RELEASE_BIN := $(CARGO_TARGET_DIR)/release

.PHONY: help
help: ## List the targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: deps
deps: ## Install what the project needs (ClickHouse server, Python test tools)
	@command -v cargo >/dev/null || { echo "cargo is required (rustup)"; exit 1; }
	scripts/clickhouse.sh install
	scripts/pyenv.sh >/dev/null

.PHONY: clickhouse
clickhouse: ## Start the local ClickHouse (installs it when missing)
	scripts/clickhouse.sh start

.PHONY: build
build: ## Build every binary (dev profile)
	cargo build --bins

.PHONY: run
run: clickhouse build ## Set up and run: migrate, seed a demo org, print its API key, serve the API
	scripts/run.sh

.PHONY: lint
lint: ## rustfmt and clippy (warnings are errors)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

.PHONY: test
test: clickhouse ## Everything CI runs: lint, all tests on real ClickHouse + moto, chdb dialect check
	scripts/test.sh

.PHONY: test-cluster
test-cluster: ## Storage suites + single-vs-cluster comparison on a local 2x2 ClickHouse cluster (docs/scale-out.md)
	scripts/test-cluster.sh

.PHONY: clients
clients: clickhouse ## Regenerate clients/ from the served OpenAPI document and run their tests and examples
	scripts/clients.sh

.PHONY: package
package: ## Release build, Lambda zip (bootstrap) and offline OCI images in .local/dist (docs/deploy.md)
	scripts/package.sh

.PHONY: test-package
test-package: clickhouse ## make package, then prove the zip runs under a fake Lambda runtime and the images start
	scripts/test-package.sh

.PHONY: bench
bench: clickhouse ## Benchmarks (criterion + end-to-end); figures go in benches/README.md
	scripts/bench.sh

.PHONY: clean-local
clean-local: ## Stop local servers and delete their data (.local/)
	-scripts/moto.sh stop
	-scripts/clickhouse.sh stop
	rm -rf .local

# autopilot-sync - build, test and package the two Lambda functions.
#
# `sam build` (template.yaml: CodeUri: ., Metadata BuildMethod: makefile) copies
# the repository to a scratch directory and runs `make build-SyncFunction` /
# `make build-StatusFunction` there with ARTIFACTS_DIR set; each target must
# leave an executable `bootstrap` in $(ARTIFACTS_DIR).

GO        ?= go
BUILD_DIR ?= .build
FUNCTIONS := sync status

# provided.al2023 on Graviton: static, stripped, no RPC shim (lambda.norpc).
LAMBDA_ENV   := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags='-s -w'

# Go files to format-check: tracked plus untracked-but-not-ignored, or every
# .go file outside build output when this is not a git checkout.
GOFILES = $(shell git ls-files --cached --others --exclude-standard -- '*.go' 2>/dev/null || \
	find . -name '*.go' -not -path './.git/*' -not -path './$(BUILD_DIR)/*' -not -path './.aws-sam/*')

.PHONY: all build $(addprefix build-,$(FUNCTIONS)) build-SyncFunction build-StatusFunction \
	test run lint vet fmt-check cfn-lint package sizes clean help

all: build

## help: list the targets documented here (each `## target: description` comment)
help:
	@echo 'make TARGET, where TARGET is one of:'
	@awk '/^## [^:]+: / { i = index($$0, ": "); printf "  %-16s %s\n", substr($$0, 4, i - 4), substr($$0, i + 2); next } \
		/^## / { printf "  %-16s %s\n", "", substr($$0, 4) }' $(firstword $(MAKEFILE_LIST))

## build: both functions for linux/arm64 into .build/<fn>/bootstrap
build: $(addprefix build-,$(FUNCTIONS))

$(addprefix build-,$(FUNCTIONS)): build-%:
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o $(BUILD_DIR)/$*/bootstrap ./functions/$*

## build-SyncFunction / build-StatusFunction: SAM makefile builds
build-SyncFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (this target is run by sam build)" >&2; exit 1; }
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" ./functions/sync

build-StatusFunction:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set (this target is run by sam build)" >&2; exit 1; }
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o "$(ARTIFACTS_DIR)/bootstrap" ./functions/status

## test: all tests with the race detector
test:
	$(GO) test -race ./...

## run: local server of SPEC §9 (embedded emulator without KEY_VAULT_URL)
run:
	$(GO) run ./cmd/local

## lint: go vet, gofmt check, cfn-lint
lint: vet fmt-check cfn-lint

vet:
	$(GO) vet ./...

fmt-check:
	@files='$(strip $(GOFILES))'; \
	if [ -z "$$files" ]; then echo "gofmt: no Go files"; exit 0; fi; \
	unformatted=$$(gofmt -l $$files); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):" >&2; \
		echo "$$unformatted" | sed 's/^/  /' >&2; \
		exit 1; \
	fi; \
	echo "gofmt: ok"

cfn-lint:
	cfn-lint template.yaml

## package: .build/<fn>.zip holding only bootstrap (what Lambda expects for provided.al2023)
# Timestamps are pinned so identical binaries give identical zips.
package: build
	@for fn in $(FUNCTIONS); do \
		rm -f $(BUILD_DIR)/$$fn.zip; \
		chmod 0755 $(BUILD_DIR)/$$fn/bootstrap; \
		touch -t 198001010000 $(BUILD_DIR)/$$fn/bootstrap; \
		if command -v python3 >/dev/null 2>&1; then \
			python3 -m zipfile -c $(BUILD_DIR)/$$fn.zip $(BUILD_DIR)/$$fn/bootstrap || exit 1; \
		elif command -v zip >/dev/null 2>&1; then \
			zip -q -j -X $(BUILD_DIR)/$$fn.zip $(BUILD_DIR)/$$fn/bootstrap || exit 1; \
		else \
			echo "package: need python3 or zip" >&2; exit 1; \
		fi; \
		echo "packaged $(BUILD_DIR)/$$fn.zip"; \
	done

## sizes: stripped linux/arm64 bootstrap and zip sizes in bytes and MiB, against the bootstrap limit
# The limit the benchmark holds each arm64 bootstrap to (bench/report.go maxBootstrapARM64).
MAX_BOOTSTRAP_BYTES := 10000000
sizes: package
	@for fn in $(FUNCTIONS); do \
		echo "$$fn $$(wc -c < $(BUILD_DIR)/$$fn/bootstrap) $$(wc -c < $(BUILD_DIR)/$$fn.zip)"; \
	done | awk -v max=$(MAX_BOOTSTRAP_BYTES) ' \
		function commas(n,  s) { s = sprintf("%d", n); while (s ~ /[0-9][0-9][0-9][0-9]/) sub(/[0-9][0-9][0-9]($$|,)/, ",&", s); return s } \
		function size(n) { return sprintf("%s bytes (%.2f MiB)", commas(n), n / 1048576) } \
		BEGIN { printf "%-8s  %-28s  %s\n", "function", "bootstrap (linux/arm64)", "zip" } \
		{ printf "%-8s  %-28s  %s%s\n", $$1, size($$2), size($$3), ($$2 > max ? "  over the limit" : "") } \
		END { printf "limit: %s per bootstrap\n", size(max) }'

clean:
	rm -rf $(BUILD_DIR) .aws-sam

## bench: cold start, warm latency, RSS and size against a baseline and the Graph SDK peer
## (writes bench/RESULTS.md; BENCHFLAGS=-quick for a short run that only prints)
.PHONY: bench
bench:
	$(GO) run ./bench $(BENCHFLAGS)

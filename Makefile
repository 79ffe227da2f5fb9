# vigil — the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
export CGO_ENABLED := 1

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
BIN := bin/vigil
# Arguments for `make run`, e.g. make run ARGS="--config vigil.yaml"
ARGS ?=

.PHONY: run build test bench fuzz deps deps-run lint clean

## run: install what is missing, build, and start vigil with its defaults and a demo camera
run: build
	./$(BIN) serve --demo $(ARGS)

## build: compile bin/vigil
build: deps-run
	go build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/vigil

deps-run:
	@scripts/deps.sh run

deps:
	@scripts/deps.sh test

## test: install what is missing, check formatting and vet, run every test with -race
test: deps lint
	go test -race -count=1 -timeout 25m ./...
	@scripts/fuzz-smoke.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go vet ./...

## bench: benchmarks that print figures (see docs/PERFORMANCE.md)
bench: deps build
	go test -run '^$$' -bench . ./fragments/ ./ingest/ ./playback/ ./events/ ./detect/
	go test -run '^TestBlockingReloadLatency$$' -count=1 -v ./playback/
	go run ./test/bench $(BENCHARGS)

## fuzz: run every fuzz target for FUZZTIME each (default 30s)
fuzz:
	@FUZZTIME=$${FUZZTIME:-30s} scripts/fuzz-smoke.sh

clean:
	rm -rf bin

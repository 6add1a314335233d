# Wyvern's build, test and benchmark entry points. `make test` is what CI runs.
GO ?= go
PKGS := ./...

.PHONY: all build demo test unit e2e check fmt vet bench clean fuzz

all: build

build:
	$(GO) build -o bin/ ./cmd/...

## demo: the guided tour: overlapping networks, routing, floating IPs, SNAT, security groups, a restart, traces, topology, console.
demo:
	./scripts/deps.sh
	$(GO) run ./cmd/wyvern-demo

## test: everything CI runs — installs its packages, then unit, integration and end-to-end tests.
test:
	./scripts/deps.sh
	$(GO) vet $(PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) test -race -count=1 -timeout 25m $(PKGS)
	$(MAKE) fuzz

## fuzz: each fuzz target for a short time (FUZZTIME); the seeds also run in `go test`.
FUZZTIME ?= 15s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzHTTP$$' -fuzztime $(FUZZTIME) ./internal/server
	$(GO) test -run '^$$' -fuzz '^FuzzRespond$$' -fuzztime $(FUZZTIME) ./internal/dhcp
	$(GO) test -run '^$$' -fuzz '^FuzzRespond$$' -fuzztime $(FUZZTIME) ./internal/dhcp6
	$(GO) test -run '^$$' -fuzz '^FuzzRespond$$' -fuzztime $(FUZZTIME) ./internal/ra
	$(GO) test -run '^$$' -fuzz '^FuzzParsePacketIn$$' -fuzztime $(FUZZTIME) ./internal/ovs

unit:
	$(GO) test -race -count=1 -short $(PKGS)

check: vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

fmt:
	gofmt -w $$(git ls-files '*.go')

vet:
	$(GO) vet $(PKGS)

## bench: performance figures, recorded under bench/results/.
bench: build
	./scripts/deps.sh
	./bench/run.sh

clean:
	rm -rf bin

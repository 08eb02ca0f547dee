# The two commands README.md gives: `go run ./cmd/segstream` runs the demo; `make test` runs the tests.
GO ?= go

.PHONY: test deps vet bench

deps:
	./scripts/test-deps.sh

# test installs what the tests need (redis-server from Debian when missing), then runs every test.
test: deps
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

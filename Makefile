# Convenience targets; CI runs .ci/run.
.PHONY: build test dist snapshot lint
build:
	go build -o firebreak ./cmd/firebreak
test:
	go test -race -count=1 ./...
lint:
	go tool -modfile=tools/go.mod golangci-lint run ./...
dist:
	scripts/dist.sh
snapshot:
	scripts/dist.sh --snapshot

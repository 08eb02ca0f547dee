# syntax=docker/dockerfile:1
# One image, every binary: ingest, scorer, retrainer and segstream (the all-in-one demo) in
# /usr/local/bin. The Kubernetes manifests pick one with `command:`.
#   docker build -t ghcr.io/segstream/segstream:dev .

FROM golang:1.26 AS build
# OpenBLAS for the network's matrix products (-tags openblas), linked statically below.
RUN apt-get update && apt-get install -y --no-install-recommends libopenblas-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binaries, no local paths or VCS stamps in them. cgo only for OpenBLAS, linked
# statically (Debian's build picks its kernels for the CPU at run time); netgo and osusergo keep
# name resolution and user lookup in Go, so nothing needs glibc's loader at run time. go build
# applies each main package's default.pgo (profile-guided optimization; scripts/pgo.sh).
RUN CGO_ENABLED=1 GOOS=linux GOFLAGS=-buildvcs=false \
    go build -trimpath -tags 'openblas netgo osusergo' \
      -ldflags='-s -w -linkmode external -extldflags "-static"' -o /out/ ./cmd/...

# distroless static: no shell, CA certificates for TLS to Kafka and Redis, user 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# 8080: /metrics, /healthz, /readyz (--http in the manifests); 8081: the API (--api).
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/segstream"]

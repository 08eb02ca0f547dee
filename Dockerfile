# syntax=docker/dockerfile:1
# One image, every binary: ingest, scorer, retrainer and segstream (the all-in-one demo) in
# /usr/local/bin. The Kubernetes manifests pick one with `command:`.
#   docker build -t ghcr.io/segstream/segstream:dev .

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Static binaries (no cgo), no local paths or VCS stamps in them.
RUN CGO_ENABLED=0 GOOS=linux GOFLAGS=-buildvcs=false \
    go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

# distroless static: no shell, CA certificates for TLS to Kafka and Redis, user 65532 (nonroot).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/segstream"]

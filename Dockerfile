# syntax=docker/dockerfile:1
#
# s3mesh container image: a static binary on distroless, run as a non-root
# user, data in the /data volume.
#
#   docker build -t s3mesh --build-arg VERSION=v1.2.0 .
#   docker run -d --name s3mesh -p 9000:9000 -p 4001:4001/tcp -p 4001:4001/udp \
#     -v s3mesh-data:/data s3mesh
#
# The node listens on 0.0.0.0:9000 (S3, /metrics, /health/ready,
# /health/live, admin API) and on 4001 for other offices (TCP, and QUIC on
# UDP unless a swarm key is set). Every setting can be given as an
# S3MESH_* environment variable (README.md, "Configuration") or as flags
# after "serve". Other verbs run the same way, for example:
#
#   docker run --rm -v s3mesh-data:/data s3mesh id    # peer ID and addresses
#   docker run --rm s3mesh swarm-key > swarm.key      # a private-network key
#
# No HEALTHCHECK: the final image has no shell and no HTTP client, and the
# node's only probes are HTTP endpoints. Probe GET /health/ready (200 once
# the node serves S3, 503 while it shuts down) and GET /health/live from
# the orchestrator instead, e.g. a Kubernetes httpGet probe on port 9000.

ARG GO_VERSION=1.26

# The build runs on the builder's own platform and cross-compiles: with
# cgo off, GOOS and GOARCH are all a target needs (docker buildx
# --platform linux/amd64,linux/arm64).
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY . .
# VERSION is what "s3mesh version", the start banner and the admin status
# report; empty leaves "devel" (the image is built without Git history).
ARG VERSION=
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags "-s -w -X main.stampedVersion=${VERSION}" \
      -o /out/s3mesh ./cmd/s3mesh \
 && mkdir -p /out/data

# distroless/static: CA certificates, tzdata, /etc/passwd with the nonroot
# user (65532) and nothing else: no shell, no package manager.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/s3mesh /usr/local/bin/s3mesh
# A new named volume is initialised from the image's /data, so it starts
# owned by the nonroot user. A bind-mounted directory must be writable by
# uid 65532 (chown 65532:65532 DIR).
COPY --from=build --chown=65532:65532 /out/data /data
ENV S3MESH_DATA=/data \
    S3MESH_LISTEN=0.0.0.0:9000
VOLUME ["/data"]
EXPOSE 9000/tcp 4001/tcp 4001/udp
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/s3mesh"]
CMD ["serve"]

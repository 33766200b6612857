# syntax=docker/dockerfile:1

# Build: a static binary, no cgo.
# The exact Go of go.mod's go line (golang:1.26 could predate it).
FROM golang:1.26.8 AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X main.version=${VERSION}" \
	-o /out/edgemq ./cmd/edgemq \
	&& mkdir -p /out/data /out/etc \
	&& printf '# user:hash lines; add users with: edgemq passwd /etc/edgemq/passwd USER\n' > /out/etc/passwd

# Run: distroless (no shell), as the nonroot user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/edgemq /edgemq
# The configuration: every listener on 0.0.0.0, authenticated by the
# password file /etc/edgemq/passwd, shipped empty (see the file's
# comments and README "Docker"). Owned by nonroot, so that "docker exec
# ... /edgemq passwd /etc/edgemq/passwd USER" can add users.
COPY --from=build --chown=65532:65532 /out/etc /etc/edgemq
COPY --chown=65532:65532 configs/examples/docker.yaml /etc/edgemq/edgemq.yaml
# data_dir: the session store and the self-signed certificate.
COPY --from=build --chown=65532:65532 /out/data /data
VOLUME /data
WORKDIR /
USER 65532:65532
# MQTT over tcp, tls, ws, wss; the ops listener (metrics, health).
EXPOSE 1883 8883 8083 8084 9090
# No shell or curl in distroless: the binary checks its own /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
	CMD ["/edgemq", "health"]
ENTRYPOINT ["/edgemq"]
CMD ["-c", "/etc/edgemq/edgemq.yaml"]

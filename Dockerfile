# syntax=docker/dockerfile:1

# Build: a static binary, no cgo.
FROM golang:1.26 AS build
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath \
	-ldflags "-s -w -X main.version=${VERSION}" \
	-o /out/edgemq ./cmd/edgemq \
	&& mkdir -p /out/data

# Run: distroless, as the nonroot user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/edgemq /edgemq
# data_dir defaults to ./data; with WORKDIR / that is /data, owned by nonroot.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /
USER 65532:65532
EXPOSE 1883
ENTRYPOINT ["/edgemq"]

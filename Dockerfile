# firebreak container image: a static binary on distroless, running as the
# unprivileged "nonroot" user (65532), data in the /var/lib/firebreak volume.
#
#   docker build -t firebreak --build-arg VERSION=$(git describe --tags --always) .
#   docker run -d -p 8443:8443 -v firebreak-data:/var/lib/firebreak \
#     -v $PWD/estate:/etc/firebreak/estate:ro --read-only firebreak
#
# The first start prints one-time owner credentials to the log
# (docker logs <container>).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath \
      -ldflags "-s -w -X github.com/firebreak-msp/firebreak/internal/version.version=${VERSION} -X github.com/firebreak-msp/firebreak/internal/version.commit=${COMMIT} -X github.com/firebreak-msp/firebreak/internal/version.date=${DATE}" \
      -o /out/firebreak ./cmd/firebreak \
 && mkdir -p /out/data /out/estate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/firebreak /usr/bin/firebreak
COPY --from=build --chown=65532:65532 /out/data /var/lib/firebreak
COPY --from=build /out/estate /etc/firebreak/estate
COPY packaging/firebreak.yaml /etc/firebreak/firebreak.yaml
COPY LICENSE /usr/share/doc/firebreak/LICENSE
ENV FIREBREAK_LISTEN=0.0.0.0:8443 \
    FIREBREAK_DATA_DIR=/var/lib/firebreak
USER 65532:65532
EXPOSE 8443
VOLUME ["/var/lib/firebreak"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/bin/firebreak", "healthcheck"]
ENTRYPOINT ["/usr/bin/firebreak"]
CMD ["serve", "--config", "/etc/firebreak/firebreak.yaml", "--log-format", "json"]

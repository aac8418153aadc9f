# Build a static binary (pure Go SQLite, no cgo), run it as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tokenflow . && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tokenflow /tokenflow
COPY --from=build --chown=65532:65532 /out/data /data
ENV DATA_DIR=/data ADDR=:8080
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/tokenflow"]

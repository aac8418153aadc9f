# Build a static binary (pure Go SQLite, no cgo), run it as non-root.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# The data folder is 0700 (the volume starts from it): the database holds
# password hashes and sessions.
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/tokenflow . && mkdir -p -m 0700 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/tokenflow /tokenflow
COPY --from=build --chown=65532:65532 /out/data /data
# Production unless told otherwise: no demo account (whose password would
# be in `docker logs`), no /dev routes, Secure cookies, and KEY_ENCRYPTION_KEY
# required. Try it locally with -e APP_ENV=development.
ENV DATA_DIR=/data ADDR=:8080 APP_ENV=production
EXPOSE 8080
USER nonroot
ENTRYPOINT ["/tokenflow"]

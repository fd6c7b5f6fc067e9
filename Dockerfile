# rebucket container image. Multi-stage: compile in the Rust image, ship the binary on a slim
# Debian, run as an unprivileged user.
#
#   docker build -t rebucket .
#   docker run -p 8080:8080 -p 8081:8081 -v rebucket-data:/data \
#     -v ~/.aws:/home/rebucket/.aws:ro rebucket
#
# The build stage COPYs only what `cargo build` needs (the manifest names benches/gateway.rs, so
# benches/ is part of it). `.ci/docker-build-check` builds from a directory holding exactly these
# COPY sources with this file's own `cargo build` command, so a missing source fails CI.

# The build stage uses the full Rust image (C compiler and tools for aws-lc-sys); only the
# slim runtime stage below ships.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY benches ./benches
COPY src ./src
# The cache mounts (BuildKit, Docker's default builder) keep the registry and target dir across
# builds; the binary is copied out of the target mount in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin rebucket \
    && install -D -m 0755 target/release/rebucket /out/rebucket

FROM debian:bookworm-slim
# ca-certificates: TLS to AWS and other https upstreams; curl: the HEALTHCHECK below.
# Versions are not pinned: they follow the Debian release the base image tracks.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --create-home --home-dir /home/rebucket \
       --shell /usr/sbin/nologin rebucket \
    && mkdir -p /data /home/rebucket/.aws \
    && chown rebucket:rebucket /data /home/rebucket/.aws
COPY --from=build /out/rebucket /usr/local/bin/rebucket
# HOME is set explicitly so the AWS files resolve to /home/rebucket/.aws also under
# `docker run --user UID:GID`. Mount them read-only: -v ~/.aws:/home/rebucket/.aws:ro
# (or point AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE at mounted files).
ENV HOME=/home/rebucket
USER 10001:10001
WORKDIR /home/rebucket
VOLUME ["/data"]
EXPOSE 8080 8081
# Liveness on the admin listener (no token needed).
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "-fsS", "-o", "/dev/null", "http://127.0.0.1:8081/healthz"]
ENTRYPOINT ["rebucket"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:8081", "--data-dir", "/data"]

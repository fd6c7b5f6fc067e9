# Multi-stage build: compile in the Rust image, ship the binary in a slim Debian.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin rebucket

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/rebucket /usr/local/bin/rebucket
VOLUME /data
EXPOSE 8080 8081
ENTRYPOINT ["rebucket"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--admin-listen", "0.0.0.0:8081", "--data-dir", "/data"]

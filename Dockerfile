# syntax=docker/dockerfile:1.7
# One image per function, from the same Dockerfile:
#   docker build --build-arg FUNCTION=cities-list -t ghcr.io/ai-imutis/ai-imutis-cities-list:TAG .
#   docker build --build-arg FUNCTION=migrate     -t ghcr.io/ai-imutis/ai-imutis-migrate:TAG .
# A static musl binary on distroless/static (non-root, CA certificates, no shell).
# BuildKit cache mounts keep the registry and the target dir between builds, so
# the next function reuses the compiled workspace.

ARG RUST_VERSION=1.95

FROM rust:${RUST_VERSION}-bookworm AS build
ARG FUNCTION
# musl-tools: the C toolchain for ring on musl; mold: .cargo/config.toml links
# host build scripts with it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools mold \
    && rm -rf /var/lib/apt/lists/* \
    && rustup target add x86_64-unknown-linux-musl
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    test -n "${FUNCTION}" \
    && cargo build --release --locked --target x86_64-unknown-linux-musl \
        -p "${FUNCTION}" --bin "${FUNCTION}" \
    && install -D -m 0555 "target/x86_64-unknown-linux-musl/release/${FUNCTION}" /out/app

FROM gcr.io/distroless/static-debian12:nonroot
ARG FUNCTION
LABEL org.opencontainers.image.source="https://github.com/ai-imutis/ai-imutis" \
      org.opencontainers.image.title="ai-imutis-${FUNCTION}"
COPY --from=build /out/app /app
USER 65532:65532
ENV PORT=8080
# mimalloc commits its arenas lazily: idle RSS 10 MiB instead of 19 (throughput
# within 5%; see README, benchmarks).
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
EXPOSE 8080
ENTRYPOINT ["/app"]

# syntax=docker/dockerfile:1.7
# Two ways to one image per function (a static musl binary on
# distroless/static: non-root, CA certificates, no shell).
#
# CI (.github/workflows/deploy.yml) compiles every selected function in ONE
# cargo invocation, so the dependency graph is built once per deploy, and then
# wraps each prebuilt binary in a thin image (the default target):
#   docker build -f Dockerfile --build-arg FUNCTION=cities-list dist/
#
# Locally, from source (no prebuilt binary needed):
#   docker build --target from-source --build-arg FUNCTION=cities-list -t ai-imutis-cities-list .
#   docker build --target from-source --build-arg FUNCTION=migrate     -t ai-imutis-migrate .
# The toolchain is the one rust-toolchain.toml pins (rustup installs it).

ARG DISTROLESS=gcr.io/distroless/static-debian12:nonroot

FROM rust:1-bookworm AS build
ARG FUNCTION
# musl-tools: the C toolchain for ring on musl; mold: .cargo/config.toml links
# host build scripts with it.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools mold \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# The toolchain first, in its own layer: it changes far less often than the code.
COPY rust-toolchain.toml ./
RUN rustup toolchain install && rustup target add x86_64-unknown-linux-musl
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    test -n "${FUNCTION}" \
    && cargo build --release --locked --target x86_64-unknown-linux-musl \
        -p "${FUNCTION}" --bin "${FUNCTION}" \
    && install -D -m 0555 "target/x86_64-unknown-linux-musl/release/${FUNCTION}" /out/app

FROM ${DISTROLESS} AS base
LABEL org.opencontainers.image.source="https://github.com/ai-imutis/ai-imutis"
USER 65532:65532
ENV PORT=8080
# mimalloc commits its arenas lazily: idle RSS 10 MiB instead of 19 (throughput
# within 5%; see README, benchmarks).
ENV MIMALLOC_ARENA_EAGER_COMMIT=0
EXPOSE 8080
ENTRYPOINT ["/app"]

FROM base AS from-source
ARG FUNCTION
LABEL org.opencontainers.image.title="ai-imutis-${FUNCTION}"
COPY --from=build /out/app /app

# The default target: the build context is the directory of prebuilt binaries
# (dist/ in CI), and the image is one layer on top of distroless.
FROM base AS prebuilt
ARG FUNCTION
LABEL org.opencontainers.image.title="ai-imutis-${FUNCTION}"
COPY --chmod=0555 ${FUNCTION} /app

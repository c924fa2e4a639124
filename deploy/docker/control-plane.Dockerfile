# Image of omnigraph-control-plane. Build it from the repository root:
#   docker build -f deploy/docker/control-plane.Dockerfile -t omnigraph-control-plane:0.1.0 .
#
# The builder stage is the same in both Dockerfiles of this directory, so the second image
# reuses the cached build of the first.

FROM rust:1-bookworm AS builder
# Lance generates its protobuf code with protoc while it builds. Debian's versions are
# not pinned (DL3008): a point release replaces them and a pin would break the build.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends protobuf-compiler \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# The whole workspace, as ./dev.sh builds it: building one package with -p would unify
# dependency features differently and give a different binary. The cache mounts (BuildKit)
# keep the downloaded crates and the compiled dependencies from one build to the next; the
# binaries are copied out of the cached target directory into /out.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --workspace --bins \
    && mkdir -p /out \
    && cp target/release/omnigraph-control-plane target/release/omnigraph-data-plane /out/

FROM debian:bookworm-slim
# ca-certificates: the object-store client verifies TLS against the system's roots.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 omnigraph \
    && useradd --system --uid 10001 --gid omnigraph --home-dir /var/lib/omnigraph \
        --create-home --shell /usr/sbin/nologin omnigraph
COPY --from=builder /out/omnigraph-control-plane /usr/local/bin/omnigraph-control-plane
# omnigraph.yaml lives in /var/lib/omnigraph (mount a volume there): the control plane
# rewrites it and keeps the policies sent with POST /graphs in policies/ beside it.
USER 10001:10001
WORKDIR /var/lib/omnigraph
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/omnigraph-control-plane"]
CMD ["serve", "--config", "/var/lib/omnigraph/omnigraph.yaml", "--bind", "0.0.0.0:8080"]

# syntax=docker/dockerfile:1
# AccessSync container image: `docker build -t accesssync .` at the repository root.
# Stage 1 builds the `accesssync` executable in release mode with the Swift standard library linked
# statically; stage 2 is a slim Debian with only the C libraries it loads (libldap, libpq).
# Linted by hadolint in Tests/python/test_dockerfile.py.

ARG SWIFT_IMAGE=swift:6.3.1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

# ---------------------------------------------------------------- build
FROM ${SWIFT_IMAGE} AS build
# Unpinned Debian packages: bookworm's security updates replace old versions, so pinned versions
# break rebuilds; reproducibility comes from the base image tag (pin its digest in your registry).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libldap2-dev libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a source change does not refetch them.
COPY Package.swift Package.resolve[d] ./
RUN swift package resolve
COPY . .
RUN swift build -c release --product accesssync --static-swift-stdlib \
    && install -D -m 0755 "$(swift build -c release --show-bin-path)/accesssync" /out/accesssync

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE}
LABEL org.opencontainers.image.title="accesssync" \
      org.opencontainers.image.description="LDAP + policy → Kubernetes RBAC and JupyterHub access, audited" \
      org.opencontainers.image.source="https://example.org/accesssync"
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libldap-2.5-0 libpq5 libsasl2-2 libstdc++6 ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 65532 accesssync \
    && useradd --system --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin accesssync
COPY --from=build /out/accesssync /usr/local/bin/accesssync
USER 65532:65532
ENV ACCESSSYNC_CONFIG=/etc/accesssync/accesssync.yaml
ENTRYPOINT ["/usr/local/bin/accesssync"]
CMD ["--help"]

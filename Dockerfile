# syntax=docker/dockerfile:1
#
# meshmon and helm in a small image:
#
#   docker build -t meshmon .
#   docker run --rm -v "$PWD:/work" meshmon plan -f meshmon.toml
#
# The builder runs on the build machine's own platform and cross-compiles a
# static musl binary for the image's platform, with zig as C compiler and
# linker (ring is the only C in the tree), so a linux/arm64 image builds on
# an x86_64 machine without emulation. The final stage runs no command, for
# the same reason.

ARG RUST_VERSION=1.95.0
ARG ALPINE_VERSION=3.22

FROM --platform=$BUILDPLATFORM rust:${RUST_VERSION}-slim-trixie AS builder
ARG TARGETARCH
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# python3-venv only carries the pinned zig and cargo-zigbuild below; its own
# version does not matter.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/* \
 && python3 -m venv /opt/zig \
 && /opt/zig/bin/pip install --no-cache-dir ziglang==0.15.2 cargo-zigbuild==0.23.4
ENV PATH="/opt/zig/bin:${PATH}"
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-musl ;; \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *) echo "unsupported TARGETARCH: $TARGETARCH" >&2; exit 1 ;; \
    esac > /target \
 && rustup target add "$(cat /target)"
WORKDIR /src
COPY . .
# No debug information in the shipped binary (see the release workflow).
ENV CARGO_PROFILE_RELEASE_DEBUG=false CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,id=meshmon-target-${TARGETARCH},sharing=locked \
    cargo zigbuild --release --locked --bin meshmon --target "$(cat /target)" \
 && cp "target/$(cat /target)/release/meshmon" /meshmon

# helm, pinned and checked against the SHA-256 published with its release.
FROM --platform=$BUILDPLATFORM alpine:${ALPINE_VERSION} AS helm
ARG TARGETARCH
ARG HELM_VERSION=v3.21.0
ARG HELM_SHA256_AMD64=0093eb572e3d2380f094df162ddb525e219249de88957afe24cfbb19632acd36
ARG HELM_SHA256_ARM64=8de5a0c9a47431e59fd560e91e0779c8cf9316c383da7efb84128a4c339ecb2d
SHELL ["/bin/ash", "-eo", "pipefail", "-c"]
WORKDIR /tmp/helm
RUN case "$TARGETARCH" in \
      amd64) sha="$HELM_SHA256_AMD64" ;; \
      arm64) sha="$HELM_SHA256_ARM64" ;; \
      *) echo "unsupported TARGETARCH: $TARGETARCH" >&2; exit 1 ;; \
    esac \
 && archive="helm-${HELM_VERSION}-linux-${TARGETARCH}.tar.gz" \
 && wget -q "https://get.helm.sh/${archive}" \
 && echo "${sha}  ${archive}" | sha256sum -c - \
 && tar -xzf "${archive}" \
 && install -m 0755 "linux-${TARGETARCH}/helm" /helm

# Alpine rather than a shell-less base so the image also serves as a CI job
# container; its base layer already carries the CA bundle
# (/etc/ssl/certs/ca-certificates.crt) that meshmon and helm use for TLS.
FROM alpine:${ALPINE_VERSION}
COPY --from=builder /meshmon /usr/local/bin/meshmon
COPY --from=helm /helm /usr/local/bin/helm
# helm keeps its cache and configuration under $HOME; /tmp is writable by
# any user the container is started as.
ENV HOME=/tmp
WORKDIR /work
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/meshmon"]
CMD ["--help"]

# netpol-sync: a static (musl) binary on an empty base image, running as a non-root user.
#
#   docker build -t netpol-sync:0.1.0 .
#
# The build stage runs scripts/build-static.sh, the one recipe for the static binary:
# musl-gcc, a vendored OpenSSL, libgit2/libssh2/zlib built in, a refusal of anything
# dynamically linked, and the demo run with the result. The image holds the binary, CA
# certificates and a passwd entry, and nothing else: no shell, no package manager.
# deploy/deployment.yaml runs it with a read-only root filesystem.
#
# The final stage takes only /out/netpol-sync and the CA bundle from `build`, so a builder
# can replace that stage with a directory of the same layout:
#   docker build --build-context build=DIR .
# scripts/build-image.sh builds the image either way and runs the daemon in it as deploy/
# runs it.

FROM docker.io/library/debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl gcc libc6-dev make \
        perl musl-tools git openssh-client \
 && rm -rf /var/lib/apt/lists/*
# A pinned rustup, checked against its published SHA-256, installs a pinned toolchain.
ARG RUSTUP_VERSION=1.28.2
ARG RUSTUP_SHA256=20a06e644b0d9bd2fbdbfd52d42540bdde820ea7df86e92e533c073da0cdd43c
ARG RUST_TOOLCHAIN=1.95.0
ENV RUSTUP_HOME=/usr/local/rustup \
    CARGO_HOME=/usr/local/cargo \
    PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN curl --proto '=https' --tlsv1.2 -sSf -o /tmp/rustup-init \
        "https://static.rust-lang.org/rustup/archive/${RUSTUP_VERSION}/x86_64-unknown-linux-gnu/rustup-init" \
 && echo "${RUSTUP_SHA256}  /tmp/rustup-init" | sha256sum -c - \
 && chmod +x /tmp/rustup-init \
 && /tmp/rustup-init -y -q --no-modify-path --profile minimal \
        --default-toolchain "${RUST_TOOLCHAIN}" --target x86_64-unknown-linux-musl \
 && rm /tmp/rustup-init
WORKDIR /src
COPY . .
RUN install -D -m 0755 "$(scripts/build-static.sh | tail -1)" /out/netpol-sync

FROM scratch
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY deploy/image/passwd /etc/passwd
COPY deploy/image/group /etc/group
COPY --from=build /out/netpol-sync /usr/local/bin/netpol-sync
USER 65532:65532
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
EXPOSE 9090
ENTRYPOINT ["/usr/local/bin/netpol-sync"]
CMD ["run"]

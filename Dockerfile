# netpol-sync: a static (musl) binary on an empty base image, running as a non-root user.
#
#   docker build -t netpol-sync:0.1.0 .
#
# libgit2, libssh2 and OpenSSL are linked statically (Alpine's static archives), so the
# image holds the binary, CA certificates and a passwd entry, and nothing else: no shell,
# no package manager. deploy/deployment.yaml runs it with a read-only root filesystem.
#
# The final stage takes only /out/netpol-sync and the CA bundle from `build`, so a builder
# can replace that stage with a directory of the same layout:
#   docker build --build-context build=DIR .
# scripts/build-image.sh does so with the static binary of scripts/build-static.sh, then
# runs the daemon in the image as deploy/ runs it.

FROM docker.io/library/rust:1-alpine AS build
RUN apk add --no-cache musl-dev openssl-dev openssl-libs-static zlib-dev zlib-static \
        pkgconfig perl make cmake
ENV OPENSSL_STATIC=1 \
    OPENSSL_LIB_DIR=/usr/lib \
    OPENSSL_INCLUDE_DIR=/usr/include \
    LIBZ_SYS_STATIC=1 \
    PKG_CONFIG_ALL_STATIC=1
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p netpol-sync --bin netpol-sync \
 && install -D -m 0755 target/release/netpol-sync /out/netpol-sync \
 # Refuse to ship a dynamically linked binary: it would not start on an empty base.
 && ! ldd /out/netpol-sync 2>/dev/null | grep -q '=>'

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

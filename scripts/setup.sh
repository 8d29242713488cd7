#!/usr/bin/env bash
# Installs what the tests need that a fresh machine may lack. Idempotent; quiet when
# everything is present.
set -euo pipefail

need=()
command -v git >/dev/null || need+=(git)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v openssl >/dev/null || need+=(openssl)
command -v pkg-config >/dev/null || need+=(pkg-config)
[ -f /usr/include/openssl/ssl.h ] || need+=(libssl-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi

# The real git servers (sshd; git's http-backend) that the remote tests start on loopback.
bash "$(dirname "$0")/install-test-servers.sh"

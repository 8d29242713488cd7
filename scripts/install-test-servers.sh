#!/usr/bin/env bash
# Installs the real servers the daemon's remote tests start on loopback:
#  - openssh-server: a real sshd (run by the tests as the current user, on a high port,
#    with its own config and a generated host key) for git over SSH;
#  - git's own http-backend ships with git; the tests bridge CGI to HTTP themselves,
#    so no web server package is needed.
# Idempotent: does nothing when everything is present.
set -euo pipefail

need=()
if ! command -v sshd >/dev/null 2>&1 && [ ! -x /usr/sbin/sshd ]; then
    need+=(openssh-server)
fi
if [ ! -x "$(git --exec-path 2>/dev/null)/git-http-backend" ]; then
    need+=(git)
fi

if [ ${#need[@]} -eq 0 ]; then
    echo "install-test-servers: sshd and git-http-backend present"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends: the tests need the sshd binary only, not a running service.
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "install-test-servers: installed ${need[*]}"

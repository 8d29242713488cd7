# Sourced by scripts that need a policy repository signed the way a person signs one
# (docs/bundles.md): a fresh ed25519 key, `git commit -S` with gpg.format=ssh, and each
# bundle.yaml sealed by netpol-sync and signed with `ssh-keygen -Y sign`.
#
#   signed_repo_init WORK REPO EMAIL [ALLOWED_SIGNERS_OPTIONS]
#       WORK/key (+.pub) and WORK/anchor (the allowed_signers line, also committed as
#       REPO/keys/allowed_signers); REPO a git repository that signs its commits.
#   seal_and_sign BIN BUNDLE_DIR KEY SIGNATURE_NAME
#       `BIN bundle seal BUNDLE_DIR`, then one signature, signatures/SIGNATURE_NAME.sig.
#   commit_and_push REPO BARE MESSAGE
#       `git commit -S` of everything in REPO, pushed to BARE's main; prints the commit.
#   free_port
#       a TCP port free on 127.0.0.1 now.

export GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

signed_repo_init() {
    local work=$1 repo=$2 email=$3 options=${4:-}
    export GIT_AUTHOR_NAME=${email%@*} GIT_AUTHOR_EMAIL=$email
    export GIT_COMMITTER_NAME=${email%@*} GIT_COMMITTER_EMAIL=$email
    ssh-keygen -q -t ed25519 -N '' -C "$email" -f "$work/key"
    echo "$email ${options:+$options }$(cut -d' ' -f1,2 "$work/key.pub")" > "$work/anchor"
    git init -q -b main "$repo"
    git -C "$repo" config gpg.format ssh
    git -C "$repo" config user.signingkey "$work/key"
    mkdir -p "$repo/keys"
    cp "$work/anchor" "$repo/keys/allowed_signers"
}

seal_and_sign() {
    local bin=$1 bundle=$2 key=$3 name=$4
    "$bin" bundle seal "$bundle" >/dev/null
    rm -rf "$bundle/signatures"
    mkdir -p "$bundle/signatures"
    ssh-keygen -q -Y sign -n netpol-sync-bundle -f "$key" "$bundle/bundle.yaml"
    mv "$bundle/bundle.yaml.sig" "$bundle/signatures/$name.sig"
}

commit_and_push() {
    local repo=$1 bare=$2 message=$3
    git -C "$repo" add -A
    git -C "$repo" commit -q -S -m "$message"
    git -C "$repo" push -q "$bare" main
    git -C "$repo" rev-parse HEAD
}

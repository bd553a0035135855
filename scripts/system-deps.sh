#!/usr/bin/env bash
# The system packages that `make test` needs beyond Python 3.11 and make, installed when
# missing on Debian or Ubuntu: python3-venv (make setup), make (for .ci/run), Chromium (the
# cabinet's browser tests; without it they skip and the coverage floor fails) and libatomic1
# (the Node.js inside the playwright wheel that drives it; a minimal Debian lacks it). Used by
# `make test` and `.ci/run`; installs nothing that is already there.
#
#   scripts/system-deps.sh          install what is missing (as root, or with password-less sudo)
#   scripts/system-deps.sh --check  only say what is missing (exit 1 if anything is)
#
# Where it cannot install (not root, no apt-get) it names what is missing and the command to
# run, and exits 1 before anything else runs.
set -euo pipefail

PYTHON=${PYTHON:-python3}
say() { echo "system-deps: $*" >&2; }

missing() {
    local -a need=()
    command -v make >/dev/null 2>&1 || need+=(make)
    "$PYTHON" -c "import venv, ensurepip" >/dev/null 2>&1 || need+=(python3-venv)
    command -v chromium >/dev/null 2>&1 || need+=(chromium)
    compgen -G "/usr/lib/*/libatomic.so.1" >/dev/null || compgen -G "/lib/*/libatomic.so.1" \
        >/dev/null || need+=(libatomic1)
    echo "${need[@]}"
}

read -r -a need <<<"$(missing)"
if [ ${#need[@]} -eq 0 ]; then
    exit 0
fi
if [ "${1:-}" = "--check" ]; then
    say "missing: ${need[*]}"
    exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
    say "missing: ${need[*]}; this machine has no apt-get: install them with its package" \
        "manager (Chromium must answer to the command 'chromium'), then run this again."
    exit 1
fi
if [ "$EUID" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo=(sudo -n)
else
    say "missing: ${need[*]}; installing them needs root. Run once:"
    say "    sudo apt-get update && sudo apt-get install -y ${need[*]}"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
say "installing ${need[*]} (apt-get)"
"${sudo[@]}" apt-get update -qq
packages=()
for pkg in "${need[@]}"; do
    # Ubuntu has no 'chromium' package: its 'chromium-browser' (a snap) gives the command.
    if [ "$pkg" = chromium ] && ! apt-cache show chromium >/dev/null 2>&1; then
        pkg=chromium-browser
    fi
    packages+=("$pkg")
done
"${sudo[@]}" apt-get install -y -qq "${packages[@]}"

read -r -a still <<<"$(missing)"
if [ ${#still[@]} -gt 0 ]; then
    say "still missing after apt-get install ${packages[*]}: ${still[*]}" \
        "(on Ubuntu, chromium-browser needs snapd; install Chromium another way so that" \
        "'chromium' is on PATH)"
    exit 1
fi
say "installed ${packages[*]}"

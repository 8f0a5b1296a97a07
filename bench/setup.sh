#!/usr/bin/env bash
# Installs what the benchmark needs, idempotently:
#   - nginx (the static upstream) with its echo module (echo_sleep: the 100 ms upstream), and wrk;
#   - LiteLLM's proxy in its own virtualenv, bench/.venv-litellm, used only by the benchmark.
# Run as root (apt-get). Safe to run again: it skips what is already there.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# Pinned: the newest release whose dependencies all resolve from the registry this harness was
# written against (later ones need a certifi the registry did not have yet). LiteLLM has had
# compromised releases on PyPI (1.82.7, 1.82.8 and 1.107.0 were pulled); bump the pin deliberately.
LITELLM_VERSION="${LITELLM_VERSION:-1.106.0}"

need_apt=()
command -v nginx >/dev/null 2>&1 || need_apt+=(nginx-light)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
dpkg -s libnginx-mod-http-echo >/dev/null 2>&1 || need_apt+=(libnginx-mod-http-echo)
if ((${#need_apt[@]})); then
    echo "setup: installing ${need_apt[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # nginx-light is a transitional package on newer Debian; plain nginx is the same server.
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" \
        || apt-get install -y -qq --no-install-recommends "${need_apt[@]/nginx-light/nginx}"
fi
# The package enables a system nginx service; the benchmark runs its own nginx and needs none.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet nginx 2>/dev/null; then
    systemctl stop nginx || true
fi

VENV="$HERE/.venv-litellm"
if [[ ! -x "$VENV/bin/litellm" ]] \
    || [[ "$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))' 2>/dev/null)" != "$LITELLM_VERSION" ]]; then
    echo "setup: installing litellm[proxy]==$LITELLM_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q "litellm[proxy]==$LITELLM_VERSION"
fi

echo "setup: nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), litellm $("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("litellm"))')"

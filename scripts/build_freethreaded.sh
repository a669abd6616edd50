#!/usr/bin/env bash
# Build free-threaded CPython 3.13.5t and a venv that can run the lab's worker on it.
#
#   scripts/build_freethreaded.sh [PREFIX] [VENV]
#
# 1. The interpreter (skipped when PREFIX/bin/python3.13t already exists): the upstream tarball comes
#    from Debian trixie's python3.13 source package (its .orig.tar.xz *is* the upstream release),
#    fetched with `apt-get source --download-only` under a private APT configuration whose only
#    source is a deb-src line built from this system's own apt mirror; its sha256 is checked, then
#    pyenv's python-build compiles "3.13.5t" from that cached tarball (no other download).
# 2. The venv: only what the worker imports (celery[redis], pydantic-settings, requests); gevent
#    and matplotlib are not needed there. The worker runs with PYTHON_GIL=0 so that a C extension
#    without free-threading support cannot switch the GIL back on; the last step checks that.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${HOME}/.cache/concurrency-lab"
PREFIX="${1:-${CACHE}/python-3.13.5t}"
VENV="${2:-${CACHE}/venv-3.13t}"
VERSION="3.13.5"
ORIG="python3.13_${VERSION}.orig.tar.xz"
SHA256="93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
BUILD_CACHE="${CACHE}/build-cache"
SRC_DIR="${CACHE}/ft-src"

log() { printf 'freethreaded: %s\n' "$*" >&2; }

find_python_build() {
    if command -v python-build >/dev/null 2>&1; then command -v python-build; return; fi
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}/plugins/python-build/bin/python-build" \
                     /root/.pyenv/plugins/python-build/bin/python-build; do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    log "python-build not found (install pyenv or put python-build on PATH)"; exit 1
}

mirror_uri() {
    # The system's own Debian mirror, read from its deb822 sources (never written down here).
    local uri
    uri="$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
           | grep -v -- '-security' | head -n1 || true)"
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1 == "deb" {print $2}' /etc/apt/sources.list | grep -v -- '-security' | head -n1 || true)"
    fi
    [ -n "$uri" ] || { log "no apt mirror URI found in /etc/apt/sources.list.d/*.sources"; exit 1; }
    echo "$uri"
}

fetch_tarball() {
    local target="${BUILD_CACHE}/Python-${VERSION}.tar.xz"
    mkdir -p "$BUILD_CACHE" "$SRC_DIR/apt/lists/partial" "$SRC_DIR/apt/cache/archives/partial"
    if [ -f "$target" ] && echo "${SHA256}  ${target}" | sha256sum -c --status; then return; fi
    if [ ! -f "${SRC_DIR}/${ORIG}" ]; then
        command -v apt-get >/dev/null || { log "apt-get is needed to fetch the source package"; exit 1; }
        echo "deb-src $(mirror_uri) trixie main" > "$SRC_DIR/apt/sources.list"
        cat > "$SRC_DIR/apt.conf" <<EOF
Dir::Etc::SourceList "$SRC_DIR/apt/sources.list";
Dir::Etc::SourceParts "/nonexistent";
Dir::State::Lists "$SRC_DIR/apt/lists";
Dir::Cache "$SRC_DIR/apt/cache";
EOF
        log "fetching the python3.13 source package (trixie)"
        APT_CONFIG="$SRC_DIR/apt.conf" apt-get -q update >&2
        (cd "$SRC_DIR" && APT_CONFIG="$SRC_DIR/apt.conf" apt-get -q source --download-only python3.13 >&2)
    fi
    echo "${SHA256}  ${SRC_DIR}/${ORIG}" | sha256sum -c --status \
        || { log "sha256 mismatch for ${ORIG}"; exit 1; }
    cp "${SRC_DIR}/${ORIG}" "$target"
}

build_interpreter() {
    if [ -x "${PREFIX}/bin/python3.13t" ]; then
        log "interpreter already built: ${PREFIX}/bin/python3.13t"; return
    fi
    fetch_tarball
    log "building CPython ${VERSION}t into ${PREFIX} (several minutes)"
    PYTHON_BUILD_CACHE_PATH="$BUILD_CACHE" "$(find_python_build)" "${VERSION}t" "$PREFIX"
}

build_venv() {
    if [ ! -x "${VENV}/bin/python" ]; then
        "${PREFIX}/bin/python3.13t" -m venv "$VENV"
    fi
    "${VENV}/bin/python" -m pip install -q --upgrade pip
    # What the worker imports, nothing more (gevent/matplotlib/flower are producer- or pool-side).
    # Binary wheels only for the compiled ones: the newest pydantic-core has no cp313t wheel and would
    # need a Rust toolchain with network access; pip then picks the newest release that has one.
    "${VENV}/bin/python" -m pip install -q --only-binary pydantic-core,charset-normalizer \
        'celery[redis]>=5.5,<6' 'pydantic-settings>=2.2' 'requests>=2.31'
    "${VENV}/bin/python" -m pip install -q --no-deps "$ROOT"
}

check_gil_off() {
    local state
    state="$(cd "$ROOT" && PYTHON_GIL=0 "${VENV}/bin/python" -c \
             'import sys, worker.tasks; print(sys._is_gil_enabled())')"
    [ "$state" = "False" ] || { log "the GIL is on in ${VENV} (got ${state})"; exit 1; }
    log "ready: ${VENV}/bin/python (free-threaded, GIL off with the worker imported)"
}

build_interpreter
build_venv
check_gil_off

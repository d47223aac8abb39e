#!/usr/bin/env bash
# The Docker test tier's machine setup (DESIGN.md section 6, tier 4).
#
# No image can be pulled on the machines this project is built and tested on, so this script makes
# everything the image tests need from Debian's packages alone:
#   1. the Docker engine (`docker.io`) and `debootstrap`, installed with apt when missing;
#   2. a running `dockerd` (started here, detached, when none answers);
#   3. a base image with Python: Debian bookworm (minbase) + python3, python3-venv and pip, made
#      with debootstrap and `docker import`ed under $AUTONOMY_TEST_BASE_IMAGE.
# Bookworm's Python is 3.11, as on the host, so wheels built on the host with `pip wheel` install
# offline inside images built from it (pip in a container cannot verify TLS here).
# Each step is skipped when already done, so a warm run takes a second. Idempotent; safe to rerun.
set -euo pipefail

BASE_IMAGE="${AUTONOMY_TEST_BASE_IMAGE:-autonomy-test/bookworm-python:3.11}"
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${AUTONOMY_CACHE_DIR:-$HOME/.cache/autonomy}/docker"
DOCKERD_LOG="${CACHE_DIR}/dockerd.log"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

log() { printf '[docker-setup] %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }

install_packages() {
    local missing=()
    command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    command -v docker >/dev/null 2>&1 || missing+=(docker.io)
    if [ ${#missing[@]} -eq 0 ]; then return; fi
    log "installing ${missing[*]} from Debian"
    $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null
}

start_daemon() {
    if engine_answers; then return; fi
    mkdir -p "$CACHE_DIR"
    log "starting dockerd (log: $DOCKERD_LOG)"
    # Detached in its own session, so that it outlives this script and a test run's process group.
    $SUDO setsid dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 1 120); do
        if engine_answers; then return; fi
        sleep 0.5
    done
    log "dockerd did not answer within 60 s; its log follows"
    tail -n 40 "$DOCKERD_LOG" >&2 || true
    exit 1
}

make_base_image() {
    if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then return; fi
    mkdir -p "$CACHE_DIR"
    local tarball="$CACHE_DIR/bookworm-python-rootfs.tar"
    if [ ! -s "$tarball" ]; then
        local rootfs
        rootfs="$(mktemp -d /tmp/autonomy-rootfs.XXXXXX)"
        log "debootstrap bookworm (minbase + python3) into $rootfs"
        $SUDO debootstrap --variant=minbase \
            --include=python3,python3-venv,python3-pip,ca-certificates \
            bookworm "$rootfs" "$MIRROR" >"$CACHE_DIR/debootstrap.log" 2>&1 \
            || { tail -n 40 "$CACHE_DIR/debootstrap.log" >&2; exit 1; }
        # Leave no package lists or caches in the image.
        $SUDO rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
            "$rootfs"/var/cache/apt/archives/*.deb
        $SUDO tar -C "$rootfs" -cf "$tarball.tmp" .
        mv "$tarball.tmp" "$tarball"
        $SUDO rm -rf "$rootfs"
    fi
    log "docker import $BASE_IMAGE"
    docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        "$tarball" "$BASE_IMAGE" >/dev/null
}

started=$(date +%s)
install_packages
start_daemon
make_base_image
log "ready in $(( $(date +%s) - started )) s: engine $(docker version --format '{{.Server.Version}}'), base image $BASE_IMAGE"

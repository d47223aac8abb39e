#!/usr/bin/env bash
# The PostgreSQL test tier's machine setup: the server binaries the long-term memory store is tested against.
#
# The tests run their own throwaway server (hack/postgres/server.py: initdb + postgres on a free loopback port,
# in a temporary directory), so all this script does is make sure Debian's server binaries are installed:
# Debian's `postgresql` (the distribution's current major version) with apt when no initdb/postgres is found.
# The tests never use the machine's own clusters. A warm run only looks for the binaries: well under a
# second. Idempotent; safe to rerun.
#
#   --optional   outside CI, a machine where nothing can be installed (no root, no sudo) gets a notice
#                instead of a failure, and the PostgreSQL tests skip; under CI=true it still fails.
set -euo pipefail
cd "$(dirname "$0")"

OPTIONAL=0
if [ "${1:-}" = "--optional" ]; then OPTIONAL=1; fi
PACKAGE="${AUTONOMY_POSTGRES_PACKAGE:-postgresql}"
log() { printf '[postgres-setup] %s\n' "$*" >&2; }
in_ci() { case "${CI:-}" in 1|true|TRUE|True|yes) return 0;; *) return 1;; esac; }

found() { python3 -c 'import server, sys; sys.exit(server.find_bindir() is None)'; }

if found; then exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    if [ "$OPTIONAL" = 1 ] && ! in_ci && ! sudo -n true 2>/dev/null; then
        log "no PostgreSQL binaries and no root to install $PACKAGE: the PostgreSQL tests will skip"
        exit 0
    fi
    SUDO="sudo"
fi

started=$(date +%s)
log "installing $PACKAGE from Debian"
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$PACKAGE" >/dev/null
if ! found; then
    log "$PACKAGE is installed but no initdb/postgres was found under /usr/lib/postgresql/*/bin"
    exit 1
fi
python3 server.py --check
log "ready in $(( $(date +%s) - started )) s"

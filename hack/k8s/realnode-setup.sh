#!/usr/bin/env bash
# The real-pods test tier's machine setup (DESIGN.md section 6, tier 5; hack/k8s/realnode.py).
#
#   1. containerd, runc, the CNI plugins, iptables, conntrack (and nftables, which only silences a
#      kube-proxy warning) from Debian, installed with apt when missing; none of them starts a daemon;
#   2. kubelet, kube-proxy and the pause program built from the Go modules by build.sh (cached).
#
# Usage: hack/k8s/realnode-setup.sh [--optional]
#   --optional  where this cannot work (not root and no sudo, no apt, no Go) and outside CI, say why and
#               exit 0: the real-pods tests then skip with that reason; under CI=true it is an error.
# Idempotent: a warm run takes well under a second.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
optional=false
[[ "${1:-}" == "--optional" ]] && optional=true
case "${CI:-}" in 1|true|TRUE|True|yes) optional=false ;; esac

say() { printf '[realnode-setup] %s\n' "$*" >&2; }
unavailable() {
  if $optional; then say "$1: the real-pods tests will skip"; exit 0; fi
  say "ERROR: $1"; exit 1
}

SUDO=""
if [[ "$(id -u)" != 0 ]]; then
  command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || unavailable "not root and no sudo (a kubelet needs root)"
  SUDO="sudo"
fi

have() { command -v "$1" >/dev/null 2>&1 || [[ -x "/usr/sbin/$1" || -x "/sbin/$1" ]]; }
missing=()
have containerd || missing+=(containerd)
have runc || missing+=(runc)
[[ -x /usr/lib/cni/bridge && -x /usr/lib/cni/firewall ]] || missing+=(containernetworking-plugins)
have iptables || missing+=(iptables)
have conntrack || missing+=(conntrack)
have nft || missing+=(nftables)
if ((${#missing[@]})); then
  command -v apt-get >/dev/null 2>&1 || unavailable "no apt-get to install ${missing[*]}"
  say "installing ${missing[*]} from Debian"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v go >/dev/null 2>&1 || unavailable "Go is not installed (kubelet and kube-proxy build from the Go modules)"
"$HERE/build.sh"

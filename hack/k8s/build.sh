#!/usr/bin/env bash
# Build the binaries of the test control plane (etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kwok, helm) from their Go modules, once, and cache them by version.
#
# Why: no container image or release download is reachable here (kind, k3d and setup-envtest cannot
# work), but the Go module proxy is. Each component is built in a wrapper module of its own so that
# minimal version selection never raises one component's dependencies above what it pins.
#
# Usage: hack/k8s/build.sh [--optional] [--print-bin-dirs]
#   --optional          without Go and outside CI (CI unset or not true), say so and exit 0: the
#                       control-plane tests then skip; under CI=true a missing Go is an error
#   AUTONOMY_K8S_CACHE  cache root (default ~/.cache/autonomy-k8s)
# Output: <cache>/kubernetes-<v>/{kube-apiserver,kube-controller-manager,kube-scheduler},
#         <cache>/etcd-<v>/etcd, <cache>/kwok-<v>/kwok, <cache>/helm-<v>/helm,
#         and for the real node (hack/k8s/realnode.py): <cache>/kubernetes-node-<v>/{kubelet,kube-proxy}
#         (a wrapper module of their own, same replace lines) and <cache>/pause-<hash>/pause (pause/main.go)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
CACHE="${AUTONOMY_K8S_CACHE:-$HOME/.cache/autonomy-k8s}"
BUILD_DATE="2000-01-01T00:00:00Z" # fixed, so a rebuild of the same version is the same binary

say() { printf '[k8s-build] %s\n' "$*" >&2; }
die() { printf '[k8s-build] ERROR: %s\n' "$*" >&2; exit 1; }

k8s_dir="$CACHE/kubernetes-$K8S_VERSION"
etcd_dir="$CACHE/etcd-$ETCD_VERSION"
kwok_dir="$CACHE/kwok-$KWOK_VERSION"
helm_dir="$CACHE/helm-$HELM_VERSION"
node_dir="$CACHE/kubernetes-node-$K8S_VERSION"
pause_hash="$(cat "$HERE/pause/main.go" "$HERE/pause/go.mod" | sha256sum | cut -c1-12)"
pause_dir="$CACHE/pause-$pause_hash"

optional=false
for arg in "$@"; do
  case "$arg" in
    --optional) optional=true ;;
    --print-bin-dirs) printf '%s\n' "$k8s_dir" "$etcd_dir" "$kwok_dir" "$helm_dir" "$node_dir" "$pause_dir"; exit 0 ;;
    *) die "unknown argument '$arg' (expected --optional or --print-bin-dirs)" ;;
  esac
done

all_built() {
  [[ -x "$k8s_dir/kube-apiserver" && -x "$k8s_dir/kube-controller-manager" \
    && -x "$k8s_dir/kube-scheduler" && -x "$etcd_dir/etcd" && -x "$kwok_dir/kwok" \
    && -x "$helm_dir/helm" && -x "$node_dir/kubelet" && -x "$node_dir/kube-proxy" && -x "$pause_dir/pause" ]]
}
if all_built; then
  say "all binaries already built under $CACHE"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  case "${CI:-}" in 1|true|TRUE|True|yes) optional=false ;; esac
  if $optional; then
    say "Go is not installed: control plane not built, its tests will skip (see hack/k8s/README.md)"
    exit 0
  fi
  die "Go is not installed (need go >= 1.24 on PATH to build the test control plane; see hack/k8s/README.md)"
fi

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$CACHE/src" "$CACHE/logs"

# One build at a time per cache (the test fixture and `make` may both ask for it).
exec 9>"$CACHE/.build.lock"
if command -v flock >/dev/null 2>&1; then
  flock -n 9 || { say "another build holds $CACHE/.build.lock; waiting for it"; flock 9; }
  all_built && { say "all binaries built by the other build"; exit 0; }
fi

# run LOG CMD...: run a go command with its output in LOG; on failure, one clear line plus the tail.
run() {
  local log="$1"; shift
  if ! "$@" >>"$log" 2>&1; then
    printf '[k8s-build] ERROR: `%s` failed; last lines of %s:\n' "$*" "$log" >&2
    tail -n 12 "$log" | sed 's/^/    /' >&2
    exit 1
  fi
}

# run_ticking LOG LABEL CMD...: `run`, saying every minute how many packages the (`go build -v`)
# command has compiled so far, so a long build does not look hung.
run_ticking() {
  local log="$1" label="$2" mark ticker; shift 2
  mark="$(wc -l <"$log")"
  ( while sleep 60; do
      say "$label: still compiling, $(( $(wc -l <"$log") - mark )) packages done"
    done ) &
  ticker=$!
  trap 'kill "$ticker" 2>/dev/null || true' EXIT
  run "$log" "$@"
  kill "$ticker" 2>/dev/null || true
  trap - EXIT
}

# Reaching the proxy is checked once, with a message that names the cause rather than a Go trace.
check_proxy() {
  local log="$CACHE/logs/proxy-check.log"
  if ! go list -m -json "k8s.io/kubernetes@$K8S_VERSION" >"$log" 2>&1; then
    die "cannot fetch k8s.io/kubernetes@$K8S_VERSION from the Go module proxy \
(GOPROXY=$(go env GOPROXY)); check the network or GOPROXY. Details: $log"
  fi
}

# new_wrapper DIR MODULE: an empty wrapper module in DIR.
new_wrapper() {
  rm -rf "$1"; mkdir -p "$1"
  printf 'module %s\n' "$2" >"$1/go.mod"
}

# tools_file DIR PKG...: keeps the main packages in the wrapper's module graph (never compiled itself).
tools_file() {
  local dir="$1"; shift
  { printf '//go:build tools\n\npackage tools\n\nimport (\n'
    printf '\t_ "%s"\n' "$@"
    printf ')\n'; } >"$dir/tools.go"
}

# kubernetes_wrapper SRC LOG PKG...: the wrapper module of k8s.io/kubernetes@$K8S_VERSION in SRC (each
# staging module replaced by its published twin), tidied for the main packages PKG...; sets `ld` to the
# version-stamping linker flags.
kubernetes_wrapper() {
  local src="$1" log="$2" v="$K8S_VERSION" minor major upstream_mod key val; shift 2
  major="${v#v}"; major="${major%%.*}"
  minor="${v#v*.}"; minor="${minor%%.*}"
  upstream_mod="$(go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')"
  [[ -f "$upstream_mod" ]] || die "could not download k8s.io/kubernetes@$v's go.mod (see $log)"
  new_wrapper "$src" autonomy.local/k8s-build/kubernetes
  {
    grep -E '^(go|godebug) ' "$upstream_mod"
    printf '\nrequire k8s.io/kubernetes %s\n\nreplace (\n' "$v"
    # Each staging module, pinned upstream to ./staging/..., is replaced by its published twin v0.Y.Z.
    sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/src/k8s.io/[a-z0-9-]*$#\t\1 => \1 v0.'"${minor}"'.'"${v##*.}"'#p' \
      "$upstream_mod"
    printf ')\n'
  } >>"$src/go.mod"
  grep -q '=> k8s.io/api v0' "$src/go.mod" || die "found no staging modules in $upstream_mod"
  tools_file "$src" "$@"
  (cd "$src" && run "$log" go mod tidy)
  ld="-s -w"
  for kv in "gitVersion=$v" "gitMajor=$major" "gitMinor=$minor" "gitTreeState=clean" "buildDate=$BUILD_DATE"; do
    key="${kv%%=*}"; val="${kv#*=}"
    ld+=" -X k8s.io/client-go/pkg/version.$key=$val -X k8s.io/component-base/version.$key=$val"
  done
}

build_kubernetes() {
  local v="$K8S_VERSION" src log tmp ld
  src="$CACHE/src/kubernetes-$v"; log="$CACHE/logs/kubernetes-$v.log"; : >"$log"
  say "kubernetes $v: preparing the wrapper module (downloads ~1 GB of modules on a cold cache)"
  kubernetes_wrapper "$src" "$log" k8s.io/kubernetes/cmd/kube-apiserver \
    k8s.io/kubernetes/cmd/kube-controller-manager k8s.io/kubernetes/cmd/kube-scheduler
  say "kubernetes $v: compiling kube-apiserver, kube-controller-manager, kube-scheduler (5-10 min cold on 2 cores; log: $log)"
  tmp="$k8s_dir.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$src" && run_ticking "$log" "kubernetes $v" go build -v -trimpath -tags selinux,notest -ldflags "$ld" -o "$tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler)
  rm -rf "$k8s_dir"; mv "$tmp" "$k8s_dir"
}

# The real node's kubelet and kube-proxy: a wrapper of their own (their dependencies, such as cadvisor,
# stay out of the control plane's module graph); after build_kubernetes the build cache makes it ~1 min.
build_kubernetes_node() {
  local v="$K8S_VERSION" src log tmp ld
  src="$CACHE/src/kubernetes-node-$v"; log="$CACHE/logs/kubernetes-node-$v.log"; : >"$log"
  say "kubernetes $v: preparing the node's wrapper module"
  kubernetes_wrapper "$src" "$log" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  say "kubernetes $v: compiling kubelet, kube-proxy (about 1 min after the control plane, 8 min alone; log: $log)"
  tmp="$node_dir.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$src" && run_ticking "$log" "kubelet/kube-proxy $v" go build -v -trimpath -tags selinux,notest -ldflags "$ld" \
    -o "$tmp/" k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy)
  rm -rf "$node_dir"; mv "$tmp" "$node_dir"
}

# The pods' sandbox program (no registry.k8s.io/pause here): pause/main.go, standard library only.
build_pause() {
  local log="$CACHE/logs/pause-$pause_hash.log" tmp="$pause_dir.tmp"; : >"$log"
  say "pause: building"
  rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$HERE/pause" && GOFLAGS= run "$log" go build -trimpath -ldflags "-s -w" -o "$tmp/pause" .)
  rm -rf "$pause_dir"; mv "$tmp" "$pause_dir"
}

build_etcd() {
  local v="$ETCD_VERSION" src log tmp
  src="$CACHE/src/etcd-$v"; log="$CACHE/logs/etcd-$v.log"; : >"$log"
  say "etcd $v: building (a few minutes cold; log: $log)"
  new_wrapper "$src" autonomy.local/k8s-build/etcd
  printf '\ngo 1.24\n\nrequire go.etcd.io/etcd/server/v3 %s\n' "$v" >>"$src/go.mod"
  tools_file "$src" go.etcd.io/etcd/server/v3
  (cd "$src" && run "$log" go mod tidy)
  tmp="$etcd_dir.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  (cd "$src" && run "$log" go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" go.etcd.io/etcd/server/v3)
  rm -rf "$etcd_dir"; mv "$tmp" "$etcd_dir"
}

# go_install NAME VERSION DIR PKG LDFLAGS: a module whose own go.mod builds as is (no replace lines).
go_install() {
  local name="$1" v="$2" dir="$3" pkg="$4" ld="$5" log tmp
  log="$CACHE/logs/$name-$v.log"; : >"$log"
  say "$name $v: building (a few minutes cold; log: $log)"
  tmp="$dir.tmp"; rm -rf "$tmp"; mkdir -p "$tmp"
  GOFLAGS= GOBIN="$tmp" run "$log" go install -trimpath -ldflags "$ld" "$pkg@$v"
  rm -rf "$dir"; mv "$tmp" "$dir"
}

start=$SECONDS
check_proxy
[[ -x "$k8s_dir/kube-apiserver" && -x "$k8s_dir/kube-controller-manager" && -x "$k8s_dir/kube-scheduler" ]] \
  || build_kubernetes
[[ -x "$etcd_dir/etcd" ]] || build_etcd
k8s_minor="${K8S_VERSION#v*.}"; k8s_minor="${k8s_minor%%.*}"
# kwok's own version constants are right in its released source: nothing to stamp.
[[ -x "$kwok_dir/kwok" ]] || go_install kwok "$KWOK_VERSION" "$kwok_dir" sigs.k8s.io/kwok/cmd/kwok "-s -w"
# helm: stamp its version and the Kubernetes version `lint`/`template` assume without a cluster.
[[ -x "$helm_dir/helm" ]] || go_install helm "$HELM_VERSION" "$helm_dir" helm.sh/helm/v3/cmd/helm \
  "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$k8s_minor \
-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$k8s_minor"
[[ -x "$node_dir/kubelet" && -x "$node_dir/kube-proxy" ]] || build_kubernetes_node
[[ -x "$pause_dir/pause" ]] || build_pause
say "done in $((SECONDS - start)) s; binaries under $CACHE"

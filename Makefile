# The two commands of the README:
#   make run    run the example zone locally (the embedded default, no cluster)
#   make test   install everything the tests need and run the whole suite
# Everything else here is a step of those two, or a contributor's convenience.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
EXAMPLE ?= examples/fanout

.PHONY: install run test test-unit lint typecheck protos crds bench clean k8s-bins cluster-up cluster-down \
	docker-setup image-node postgres-setup real-node-setup bench-realpods

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(BIN)/autonomy zone dev --config $(EXAMPLE)/autonomy.yaml

# The Docker test tier: docker.io + dockerd + a debootstrap Python base image (no registry pulls here).
docker-setup:
	bash hack/docker/setup.sh

# The PostgreSQL tier: Debian's server binaries, for the throwaway servers the memory-store tests start
# (hack/postgres/server.py). Where nothing can be installed (no root or sudo) it says so and those tests
# skip, except under CI=true, where it fails.
postgres-setup:
	bash hack/postgres/setup.sh --optional

# The node base image (images/node/Dockerfile) from wheels built here; BASE_IMAGE=... to override.
image-node: install
	$(BIN)/python -c "from autonomy.cli.images import build_node_image as b; print(b(base_image='$(BASE_IMAGE)' or None))"

test: install lint typecheck k8s-bins docker-setup postgres-setup real-node-setup
	$(BIN)/python -m pytest tests

test-unit: install
	$(BIN)/python -m pytest tests/unit

lint: install
	$(BIN)/ruff check runtime operator tests bench hack
	$(BIN)/lint-imports

# Every product module, not only what the package's __init__ imports (the CLI, the spec, the operator).
typecheck: install
	$(BIN)/mypy runtime operator hack

protos: install
	$(BIN)/python -m grpc_tools.protoc -Iruntime --python_out=runtime --pyi_out=runtime runtime/autonomy/transport/protos/transport.proto

crds: install
	$(BIN)/python -m autonomy_operator.crdgen

bench: install
	$(BIN)/python bench/runtime_bench.py
	$(BIN)/python bench/agents_bench.py
	$(BIN)/python bench/store_bench.py

# The test control plane (hack/k8s/README.md): binaries built once from the Go modules and cached
# in ~/.cache/autonomy-k8s; without Go (outside CI) nothing is built and its tests skip.
k8s-bins:
	hack/k8s/build.sh --optional

# The real-pods tier (hack/k8s/README.md): containerd, runc, CNI plugins, iptables, conntrack from
# Debian, kubelet and kube-proxy from the Go modules. Outside CI, a host that cannot (no root, no apt,
# no Go) says so and those tests skip; under CI=true it fails.
real-node-setup:
	hack/k8s/realnode-setup.sh --optional

# REAL_NODES=1: a control plane without kwok nodes plus one real node (kubelet + containerd); its
# kubeconfig (.cluster/node/kubeconfig) lets `autonomy zone deploy` load images into the node.
REAL_NODES ?= 0
cluster-up:
ifeq ($(REAL_NODES),0)
	hack/k8s/build.sh
	$(PYTHON) hack/k8s/controlplane.py up
else
	hack/k8s/realnode-setup.sh
	$(PYTHON) hack/k8s/controlplane.py up --nodes 0 >/dev/null
	$(PYTHON) hack/k8s/realnode.py up --cluster-dir .cluster
endif

cluster-down:
	$(PYTHON) hack/k8s/realnode.py down
	$(PYTHON) hack/k8s/controlplane.py down

bench-realpods: install
	$(BIN)/python bench/realpods_bench.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

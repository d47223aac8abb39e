"""`zone deploy` finds a local test node's containerd in the kubeconfig (hack/k8s/realnode.py writes it)
and imports built images there; other contexts keep pushing to a registry or loading into kind."""

from __future__ import annotations

import json
from pathlib import Path

from autonomy.cli.kube import LOCAL_CONTAINERD_EXTENSION, LocalContainerd, local_containerd


def kubeconfig(tmp_path: Path, extensions: list[dict[str, object]]) -> str:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "plain", "cluster": {"server": "https://127.0.0.1:1"}},
            {"name": "node", "cluster": {"server": "https://127.0.0.1:2", "extensions": extensions}},
        ],
        "users": [{"name": "u", "user": {}}],
        "contexts": [
            {"name": "plain", "context": {"cluster": "plain", "user": "u"}},
            {"name": "local", "context": {"cluster": "node", "user": "u"}},
        ],
        "current-context": "local",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(json.dumps(config))
    return str(path)


def test_the_current_context_names_the_node_containerd(tmp_path: Path) -> None:
    ext = {"name": LOCAL_CONTAINERD_EXTENSION,
           "extension": {"address": "/run/x/containerd.sock", "ctr": "/usr/bin/ctr"}}
    path = kubeconfig(tmp_path, [{"name": "other", "extension": {}}, ext])
    assert local_containerd(path, None) == LocalContainerd("/run/x/containerd.sock", "k8s.io", "/usr/bin/ctr")
    assert local_containerd(path, "local") == local_containerd(path, None)


def test_other_contexts_and_broken_files_have_none(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, [{"name": LOCAL_CONTAINERD_EXTENSION, "extension": {"address": "/s"}}])
    assert local_containerd(path, "plain") is None
    assert local_containerd(kubeconfig(tmp_path, []), None) is None
    (tmp_path / "bad").write_text(":\n- [")
    assert local_containerd(str(tmp_path / "bad"), None) is None
    assert local_containerd(str(tmp_path / "absent"), None) is None

"""CRDs from the models: `python -m autonomy_operator.crdgen` writes crds/ and the chart's copy.

The `Zone` and `Cluster` schemas are the pydantic models of `autonomy.spec` turned into structural
OpenAPI (refs inlined, titles and nulls dropped), with the CEL rules the models carry. Status
schemas, printer columns and names are declared here. The files are generated, never hand-edited;
a unit test regenerates them and fails on drift.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from autonomy.spec import GROUP, ClusterSpec, ZoneSpec, rules

__all__ = ["CATEGORY", "VERSION", "cluster_crd", "render", "write", "zone_crd"]

VERSION = "v1alpha1"
CATEGORY = "autonomy"
REPO_ROOT = Path(__file__).resolve().parents[2]
TARGETS = (REPO_ROOT / "crds", REPO_ROOT / "charts" / "autonomy" / "crds")

_CONDITION_TYPES = {
    "Accepted": "the spec can be realized "
    "(False with a reason when it cannot: unknown secret key, name taken)",
    "Ready": "every pod has all its clones ready and up to date",
    "Progressing": "a rollout is under way",
    "Degraded": "a pod failed to roll out or lost clones",
}


def structural(schema: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema as a Kubernetes structural schema."""
    defs = schema.get("$defs", {})

    def convert(node: Any) -> Any:
        if isinstance(node, list):
            return [convert(n) for n in node]
        if not isinstance(node, dict):
            return node
        node = dict(node)
        if "$ref" in node:
            target = copy.deepcopy(defs[node.pop("$ref").split("/")[-1]])
            node = {**target, **node}
        if "allOf" in node and len(node["allOf"]) == 1:
            node = {**node.pop("allOf")[0], **node}
            return convert(node)
        if "anyOf" in node:
            options = [o for o in node.pop("anyOf") if o.get("type") != "null"]
            if len(options) == 1:
                node = {**options[0], **node}
                return convert(node)
            node["anyOf"] = options
        node.pop("title", None)
        node.pop("$defs", None)
        if node.get("default", 0) is None:
            node.pop("default")
        if node.get("additionalProperties") is False:
            node.pop("additionalProperties")  # structural schemas prune unknown fields instead
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "properties":
                out[key] = {k: convert(v) for k, v in value.items()}
            elif key == "items":
                out[key] = convert(value)
            else:
                out[key] = value
        return out

    converted: dict[str, Any] = convert(schema)
    return converted


def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    return structural(model.model_json_schema(by_alias=True, mode="validation"))


def _condition_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "A condition in the metav1.Condition shape.",
        "required": ["type", "status", "lastTransitionTime", "reason", "message"],
        "properties": {
            "type": {
                "type": "string",
                "maxLength": 316,
                "description": "Accepted, Ready, Progressing or Degraded. "
                + "; ".join(f"{k}: {v}" for k, v in _CONDITION_TYPES.items()),
            },
            "status": {
                "type": "string",
                "enum": ["True", "False", "Unknown"],
                "description": "True, False or Unknown.",
            },
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "minimum": 0,
                "description": "The .metadata.generation the condition was set from.",
            },
            "lastTransitionTime": {
                "type": "string",
                "format": "date-time",
                "description": "When the status last changed.",
            },
            "reason": {
                "type": "string",
                "maxLength": 1024,
                "description": "A CamelCase word for the cause, for programs.",
            },
            "message": {"type": "string", "maxLength": 32768, "description": "What happened, for people."},
        },
    }


def _conditions() -> dict[str, Any]:
    return {
        "type": "array",
        "description": "Conditions: " + "; ".join(f"{k}: {v}" for k, v in _CONDITION_TYPES.items()) + ".",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["type"],
        "items": _condition_schema(),
    }


def _zone_status() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "What the operator observed; written by the operator only.",
        "properties": {
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "The .metadata.generation this status describes.",
            },
            "conditions": _conditions(),
            "pods": {
                "type": "array",
                "description": "Each pod of the zone and its clones.",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {
                    "type": "object",
                    "description": "One pod of the zone.",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string", "description": "Name of the pod in the zone."},
                        "deployment": {"type": "string", "description": "The Deployment that runs it."},
                        "clones": {"type": "integer", "description": "Clones wanted."},
                        "readyClones": {"type": "integer", "description": "Clones ready and up to date."},
                    },
                },
            },
            "clones": {
                "type": "string",
                "description": "Ready clones over wanted clones, all pods (e.g. 3/5).",
            },
            "url": {
                "type": "string",
                "description": "Public URL of the zone, when it has a public pod and the Cluster a domain.",
            },
            "clusterId": {"type": "string", "description": "Id of the Cluster the zone runs in."},
            "appliedHash": {
                "type": "string",
                "description": "Digest of the children last applied (lets a restarted operator skip "
                "zones that are already right).",
            },
        },
    }


def _cluster_status() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "What the operator observed; written by the operator only.",
        "properties": {
            "clusterId": {
                "type": "string",
                "pattern": "^[0-9a-f]{32}$",
                "description": "Id of the cluster: 32 lowercase hex digits, generated once by the operator "
                "and "
                "never changed. Zone URLs and the autonomy.computer/cluster label use it.",
            },
            "observedGeneration": {
                "type": "integer",
                "format": "int64",
                "description": "The .metadata.generation this status describes.",
            },
            "conditions": _conditions(),
            "zoneCount": {"type": "integer", "description": "Number of zones in the cluster."},
            "zones": {
                "type": "array",
                "items": {"type": "string", "description": "<namespace>/<name> of a zone."},
                "description": "Zones of the cluster as <namespace>/<name>.",
            },
        },
    }


def _root(
    spec: dict[str, Any],
    status: dict[str, Any],
    description: str,
    validations: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    root: dict[str, Any] = {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "Versioned schema of this object."},
            "kind": {"type": "string", "description": "Kind of this object."},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }
    if validations:
        root["x-kubernetes-validations"] = validations
    return root


def _crd(
    kind: str,
    plural: str,
    scope: str,
    short_names: list[str],
    schema: dict[str, Any],
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "autonomy"},
            "annotations": {"autonomy.computer/generated-by": "autonomy_operator.crdgen (do not edit)"},
        },
        "spec": {
            "group": GROUP,
            "scope": scope,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": kind.lower(),
                "shortNames": short_names,
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def _condition_column(name: str, kind: str) -> dict[str, Any]:
    return {
        "name": name,
        "type": "string",
        "jsonPath": f'.status.conditions[?(@.type=="{kind}")].status',
        "description": f"Status of the {kind} condition.",
    }


def zone_crd() -> dict[str, Any]:
    spec = _model_schema(ZoneSpec)
    spec["description"] = (
        "The zone as written in autonomy.yaml (its name is the resource's name), plus suspend."
    )
    spec["properties"].pop("name")
    spec["required"] = [r for r in spec.get("required", []) if r != "name"]
    schema = _root(
        spec,
        _zone_status(),
        "A zone: an app of pods described by autonomy.yaml, run by the autonomy operator.",
        [
            {
                "rule": rules.ZONE_NAME.cel().replace("self.", "self.metadata.name.", 1),
                "message": f"zone name (metadata.name) must be {rules.ZONE_NAME.allowed}",
            }
        ],
    )
    columns = [
        _condition_column("Ready", "Ready"),
        {
            "name": "Clones",
            "type": "string",
            "jsonPath": ".status.clones",
            "description": "Ready clones over wanted clones.",
        },
        {
            "name": "Accepted",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Accepted")].status',
            "description": "Whether the spec can be realized.",
            "priority": 1,
        },
        {
            "name": "Reason",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].reason',
            "description": "Why the zone is or is not ready.",
            "priority": 1,
        },
        {"name": "URL", "type": "string", "jsonPath": ".status.url", "description": "Public URL."},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return _crd("Zone", "zones", "Namespaced", ["azone", "azn"], schema, columns)


def cluster_crd() -> dict[str, Any]:
    spec = _model_schema(ClusterSpec)
    spec["description"] = "Settings shared by every zone of the cluster."
    schema = _root(
        spec, _cluster_status(), "The Autonomy cluster: one per Kubernetes cluster, shared by its zones."
    )
    schema["required"] = []
    columns = [
        {
            "name": "ClusterID",
            "type": "string",
            "jsonPath": ".status.clusterId",
            "description": "Id of the cluster.",
        },
        {
            "name": "Domain",
            "type": "string",
            "jsonPath": ".spec.domain",
            "description": "Domain of zone URLs.",
        },
        {
            "name": "Zones",
            "type": "integer",
            "jsonPath": ".status.zoneCount",
            "description": "Number of zones.",
        },
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ]
    return _crd("Cluster", "clusters", "Cluster", ["acluster", "acl"], schema, columns)


def render() -> dict[str, str]:
    """File name -> YAML text of every CRD."""
    header = "# Generated by `python -m autonomy_operator.crdgen` from autonomy.spec. Do not edit.\n"
    return {
        f"{crd['spec']['group']}_{crd['spec']['names']['plural']}.yaml": header
        + yaml.safe_dump(crd, sort_keys=False, width=100)
        for crd in (cluster_crd(), zone_crd())
    }


def write(targets: tuple[Path, ...] = TARGETS) -> list[Path]:
    written = []
    for folder in targets:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in render().items():
            path = folder / name
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.parse_args()
    for path in write():
        print(path.relative_to(REPO_ROOT))


if __name__ == "__main__":
    main()

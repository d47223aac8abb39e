"""The CRDs in crds/ and the chart are exactly what the models generate, and explain every field."""

from __future__ import annotations

from typing import Any

import yaml

from autonomy_operator import crdgen


def test_generated_crds_match_committed_files() -> None:
    rendered = crdgen.render()
    for folder in crdgen.TARGETS:
        committed = {p.name: p.read_text(encoding="utf-8") for p in folder.glob("*.yaml")}
        assert committed == rendered, (
            f"{folder} is out of date with autonomy.spec: run `python -m autonomy_operator.crdgen`"
        )


def _walk(schema: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found = [(path, schema)]
    for name, child in (schema.get("properties") or {}).items():
        found += _walk(child, f"{path}.{name}")
    if "items" in schema:
        found += _walk(schema["items"], f"{path}[]")
    return found


def test_every_field_has_a_description_for_kubectl_explain() -> None:
    for crd in (crdgen.zone_crd(), crdgen.cluster_crd()):
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        missing = [p for p, node in _walk(schema) if p != ".metadata" and not node.get("description")]
        assert missing == [], f"{crd['metadata']['name']}: no description on {missing}"


def test_schema_is_structural_and_carries_the_admission_rules() -> None:
    crd = crdgen.zone_crd()
    text = yaml.safe_dump(crd)
    assert "$ref" not in text and "anyOf" not in text and "title" not in text
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    rules = {r["rule"] for _, node in _walk(schema) for r in node.get("x-kubernetes-validations", [])}
    assert "self.metadata.name.matches('^[a-z0-9]{1,10}$')" in rules
    assert "size(self) == 1 || self.exists(p, p.name == 'main-pod')" in rules
    assert "self.all(p, self.exists_one(q, q.name == p.name))" in rules
    pod = schema["properties"]["spec"]["properties"]["pods"]["items"]
    assert pod["properties"]["size"]["enum"] == ["regular", "big"]
    assert (pod["properties"]["clones"]["minimum"], pod["properties"]["clones"]["maximum"]) == (1, 100)
    env = pod["properties"]["containers"]["items"]["properties"]["env"]
    assert env["x-kubernetes-list-type"] == "map" and env["x-kubernetes-list-map-keys"] == ["name"]


def test_names_categories_and_columns() -> None:
    zone, cluster = crdgen.zone_crd()["spec"], crdgen.cluster_crd()["spec"]
    assert zone["scope"] == "Namespaced" and cluster["scope"] == "Cluster"
    assert zone["names"]["categories"] == cluster["names"]["categories"] == ["autonomy"]
    assert cluster["names"]["shortNames"] and zone["names"]["shortNames"]
    columns = {c["name"]: c["jsonPath"] for c in zone["versions"][0]["additionalPrinterColumns"]}
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert zone["versions"][0]["subresources"] == {"status": {}}
    cluster_id = cluster["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"][
        "clusterId"
    ]
    assert cluster_id["pattern"] == "^[0-9a-f]{32}$"

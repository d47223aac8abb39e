"""The Cluster spec: size table overrides and refusal of bad quantities."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from autonomy.spec import SIZES, ClusterSpec, Resources


def test_default_size_table_is_the_design() -> None:
    assert SIZES["regular"] == Resources(cpu="250m", memory="256Mi")
    assert SIZES["big"] == Resources(cpu="4", memory="2Gi")
    assert ClusterSpec().resources("big") == SIZES["big"]


def test_override_replaces_one_size_only() -> None:
    spec = ClusterSpec.model_validate(
        {"sizes": {"big": {"cpu": "8", "memory": "16Gi"}}, "imageRegistry": "r.io/x"}
    )
    assert spec.resources("big") == Resources(cpu="8", memory="16Gi")
    assert spec.resources("regular") == SIZES["regular"]
    assert spec.image_registry == "r.io/x"


@pytest.mark.parametrize(
    "bad", [{"sizes": {"big": {"cpu": "lots", "memory": "1Gi"}}}, {"domain": "Bad_Domain"}, {"unknown": 1}]
)
def test_bad_cluster_specs_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        ClusterSpec.model_validate(bad)

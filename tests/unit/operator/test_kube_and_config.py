"""The API client's paths, error mapping and rate limiter, and the operator's settings."""

from __future__ import annotations

import asyncio
import time

import pytest
from kubernetes_asyncio.client.exceptions import ApiException

from autonomy_operator.config import OperatorConfig
from autonomy_operator.kube import Conflict, Invalid, NotFound, RateLimiter, Transient, _error, resource_path


def test_resource_paths() -> None:
    assert resource_path("apps/v1", "Deployment", "ns", "a") == "/apis/apps/v1/namespaces/ns/deployments/a"
    assert resource_path("v1", "Service", "ns", "a") == "/api/v1/namespaces/ns/services/a"
    assert (
        resource_path("autonomy.computer/v1alpha1", "Cluster", None, "c")
        == "/apis/autonomy.computer/v1alpha1/clusters/c"
    )
    assert (
        resource_path("autonomy.computer/v1alpha1", "Zone", "ns")
        == "/apis/autonomy.computer/v1alpha1/namespaces/ns/zones"
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (404, NotFound),
        (409, Conflict),
        (422, Invalid),
        (400, Invalid),
        (429, Transient),
        (500, Transient),
        (503, Transient),
    ],
)
def test_api_errors_map_to_meaning(status: int, kind: type) -> None:
    error = ApiException(status=status, reason="x")
    error.body = '{"message": "the reason"}'
    mapped = _error(error)
    assert type(mapped) is kind and str(mapped) == "the reason" and mapped.status == status


async def test_rate_limiter_holds_the_rate_after_the_burst() -> None:
    limiter = RateLimiter(qps=50, burst=5)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(15)))
    elapsed = time.monotonic() - started
    # 5 at once, then 10 more at 50/s: about 0.2 s.
    assert 0.15 <= elapsed < 1.0


async def test_rate_limiter_off_at_zero() -> None:
    limiter = RateLimiter(qps=0, burst=1)
    started = time.monotonic()
    await asyncio.gather(*(limiter.acquire() for _ in range(1000)))
    assert time.monotonic() - started < 0.5


def test_config_from_env() -> None:
    assert OperatorConfig.from_env({}) == OperatorConfig()
    config = OperatorConfig.from_env(
        {
            "AUTONOMY_OPERATOR_WORKERS": "5",
            "AUTONOMY_OPERATOR_QPS": "12.5",
            "AUTONOMY_OPERATOR_BURST": "30",
            "AUTONOMY_OPERATOR_NAMESPACES": "a, b,,",
            "AUTONOMY_OPERATOR_CLUSTER": "main",
        }
    )
    assert (config.workers, config.qps, config.burst, config.namespaces, config.cluster) == (
        5,
        12.5,
        30,
        ("a", "b"),
        "main",
    )
    with pytest.raises(ValueError, match="AUTONOMY_OPERATOR_QPS='fast' is not a number"):
        OperatorConfig.from_env({"AUTONOMY_OPERATOR_QPS": "fast"})

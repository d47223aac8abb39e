"""`python -m autonomy_operator`: run the operator (in a pod, or locally with KUBECONFIG).

Watches the namespaces in AUTONOMY_OPERATOR_NAMESPACES, or the whole cluster; serves kopf's
liveness endpoint on AUTONOMY_OPERATOR_HEALTH_PORT (/healthz) and metrics on
AUTONOMY_OPERATOR_METRICS_PORT (/metrics).
"""

from __future__ import annotations

import asyncio
import logging
import os

import kopf

import autonomy_operator.handlers  # noqa: F401  (registers the handlers with kopf)
from autonomy_operator.config import OperatorConfig


def main() -> None:
    config = OperatorConfig.from_env()
    logging.basicConfig(
        level=os.environ.get("AUTONOMY_OPERATOR_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    liveness = f"http://0.0.0.0:{config.health_port}/healthz" if config.health_port else None
    asyncio.run(
        kopf.operator(
            clusterwide=not config.namespaces,
            namespaces=list(config.namespaces),
            liveness_endpoint=liveness,
            standalone=True,
        )
    )


if __name__ == "__main__":
    main()

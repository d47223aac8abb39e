"""A node's settings, read from the environment the operator (or `zone dev`) gives it.

See docs/design.md section 3 for the names: CLUSTER, ZONE, POD, NODE, POD_IP, NAMESPACE; and the
AUTONOMY_* knobs below. Bad values fail at start-up with a message naming the variable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autonomy.identity.dev_authority import ENV_NAME as DEV_CA_ENV
from autonomy.names import random_hex

DEFAULT_TRANSPORT_PORT = 50051


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None
    if value < minimum:
        raise ValueError(f"{name}={value} must be >= {minimum}")
    return value


def _float(env: dict[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None
    if value <= 0:
        raise ValueError(f"{name}={value} must be > 0")
    return value


#: Longest certificate `zone dev` hands out: it is renewed anyway, and a short one limits a leak.
MAX_DEV_CERT_LIFETIME = 24 * 3600.0


def _lifetime(env: dict[str, str], name: str, default: float) -> float:
    value = _float(env, name, default)
    if not 1.0 <= value <= MAX_DEV_CERT_LIFETIME:
        raise ValueError(f"{name}={value:g} must be between 1 and {MAX_DEV_CERT_LIFETIME:g} seconds")
    return value


@dataclass
class NodeSettings:
    name: str = field(default_factory=random_hex)
    cluster: str = ""
    zone: str = ""
    pod: str = ""
    namespace: str = ""
    pod_ip: str = "127.0.0.1"
    transport_host: str = "0.0.0.0"
    transport_port: int = DEFAULT_TRANSPORT_PORT
    discovery: str = "local"  # kubernetes | local | none
    registry_dir: Path | None = None
    #: Largest message body accepted by send (bytes of UTF-8).
    max_message_bytes: int = 4 * 1024 * 1024
    #: The deadline of a request sent without a timeout.
    request_timeout: float = 600.0
    mailbox_size: int = 10_000
    #: `zone dev`'s CA for this run (AUTONOMY_DEV_CA_DIR): nodes sign their own CSRs with it.
    dev_ca_dir: Path | None = None
    #: Seconds a certificate from the dev CA lasts (AUTONOMY_DEV_CERT_LIFETIME; renewed at two thirds).
    dev_cert_lifetime: float = 3600.0
    #: A CertificateIssuer given in code (embedding, tests): overrides how the node gets its certificate.
    issuer: Any = None
    #: Seconds to let in-flight messages finish on shutdown.
    shutdown_grace: float = 5.0

    @classmethod
    def from_environment(cls, name: str | None = None, env: dict[str, str] | None = None) -> NodeSettings:
        env = dict(os.environ if env is None else env)
        discovery = env.get("AUTONOMY_DISCOVERY") or ("kubernetes" if env.get("KUBERNETES_SERVICE_HOST") else "local")
        if discovery not in ("kubernetes", "local", "none"):
            raise ValueError(f"AUTONOMY_DISCOVERY={discovery!r}: use kubernetes, local or none")
        pod_ip = env.get("POD_IP") or "127.0.0.1"
        # On loopback (tests, zone dev) listen on loopback only; in a pod, on every interface.
        default_host = "127.0.0.1" if pod_ip.startswith("127.") else "0.0.0.0"
        registry = env.get("AUTONOMY_REGISTRY_DIR")
        return cls(
            name=name or env.get("NODE") or random_hex(),
            cluster=env.get("CLUSTER", ""),
            zone=env.get("ZONE", ""),
            pod=env.get("POD", ""),
            namespace=env.get("NAMESPACE", ""),
            pod_ip=pod_ip,
            transport_host=env.get("AUTONOMY_TRANSPORT_HOST") or default_host,
            transport_port=_int(env, "AUTONOMY_TRANSPORT_PORT", DEFAULT_TRANSPORT_PORT),
            discovery=discovery,
            registry_dir=Path(registry) if registry else None,
            max_message_bytes=_int(env, "AUTONOMY_MAX_MESSAGE_BYTES", 4 * 1024 * 1024, minimum=1),
            request_timeout=_float(env, "AUTONOMY_REQUEST_TIMEOUT", 600.0),
            mailbox_size=_int(env, "AUTONOMY_MAILBOX_SIZE", 10_000, minimum=1),
            dev_ca_dir=Path(env[DEV_CA_ENV]) if env.get(DEV_CA_ENV) else None,
            dev_cert_lifetime=_lifetime(env, "AUTONOMY_DEV_CERT_LIFETIME", 3600.0),
            shutdown_grace=_float(env, "AUTONOMY_SHUTDOWN_GRACE", 5.0),
        )

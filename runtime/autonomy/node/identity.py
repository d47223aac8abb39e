"""Who this node is in its zone, and which issuer signs its certificate, from its settings.

    in a cluster (discovery kubernetes)   the Kubernetes CSR API; the operator signs with the zone's CA
    under `zone dev` (AUTONOMY_DEV_CA_DIR) the run's CA, loaded from the run directory, signs locally
    anything else                         a CA of this process alone, in memory: the node is a zone of
                                          one, and no other process can join it (secure by default)

Whichever it is, the node makes its key, sends a CSR and renews before expiry (identity/renewal.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, cast

from autonomy.identity import CertificateIssuer, LocalAuthorityIssuer, WorkloadId, ZoneAuthority
from autonomy.identity.dev_authority import ENV_NAME as DEV_CA_ENV
from autonomy.identity.dev_authority import load_dev_authority

if TYPE_CHECKING:
    from autonomy.node.settings import NodeSettings

logger = logging.getLogger("autonomy.node")

#: Names of a node's identity when nothing gives them (a plain `python main.py`).
LOCAL = "local"


def node_workload(settings: NodeSettings) -> WorkloadId:
    """The node's WorkloadId; ValueError naming the setting to fix."""
    s = settings
    if s.discovery == "kubernetes" and s.issuer is None:
        missing = [name for name, value in (("CLUSTER", s.cluster), ("NAMESPACE", s.namespace), ("ZONE", s.zone))
                   if not value]
        if missing:
            raise ValueError(f"a node in a cluster needs {', '.join(missing)} in its environment "
                             "(the operator sets them; set them by hand when running a node yourself)")
    names = {"CLUSTER": s.cluster or LOCAL, "NAMESPACE": s.namespace or LOCAL, "ZONE": s.zone or LOCAL}
    try:
        WorkloadId(names["CLUSTER"], names["NAMESPACE"], names["ZONE"], "n")
    except ValueError as error:
        raise ValueError(f"{error} (from CLUSTER, NAMESPACE and ZONE)") from None
    try:
        return WorkloadId(names["CLUSTER"], names["NAMESPACE"], names["ZONE"], s.name)
    except ValueError as error:
        raise ValueError(f"{error}: name the node with NODE or Node.start(name=...)") from None


def choose_issuer(settings: NodeSettings, workload: WorkloadId) -> CertificateIssuer:
    """The issuer of this node's certificates (see the module docstring)."""
    s = settings
    if s.issuer is not None:
        return cast(CertificateIssuer, s.issuer)
    lifetime = dt.timedelta(seconds=s.dev_cert_lifetime)
    if s.dev_ca_dir is not None:
        authority = load_dev_authority(s.dev_ca_dir)
        if not authority.owns(workload):
            raise ValueError(f"{DEV_CA_ENV}={s.dev_ca_dir} is the CA of zone {authority.cluster}/"
                             f"{authority.namespace}/{authority.zone}, and this node is of {workload.cluster}/"
                             f"{workload.namespace}/{workload.zone} (check CLUSTER, NAMESPACE and ZONE)")
        return LocalAuthorityIssuer(authority, lifetime)
    if s.discovery == "kubernetes":
        # Imported here: only nodes in a cluster need the Kubernetes client.
        from autonomy.identity.kubernetes_csr import KubernetesCsrIssuer

        return cast(CertificateIssuer, KubernetesCsrIssuer(s.namespace))
    if s.discovery == "local":
        logger.info("node %s: no zone CA given (%s), so it trusts only itself: a zone of one",
                    workload.node, DEV_CA_ENV)
    authority = ZoneAuthority.create(workload.cluster, workload.namespace, workload.zone)
    return LocalAuthorityIssuer(authority, lifetime)

"""`zone dev`'s CA on disk: one per run, in a directory only the local user can read.

`zone dev` creates it (a fresh CA for each run) and hands its directory to the nodes in
`AUTONOMY_DEV_CA_DIR`; each node loads it and signs its own CSR with it, through the same code path
(key made in the node, CSR, issue, renew) as a node in a cluster. The trust boundary is the local user:
whoever can read the directory can make a node of this run, exactly as whoever can run processes as
that user can. So the loader refuses a directory or key that anyone else could read or swap.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from pathlib import Path

from autonomy.identity.authority import ZoneAuthority

CA_CERT_FILE = "ca.crt"
CA_KEY_FILE = "ca.key"
#: A run's CA outlives any dev session; a new run makes a new one.
DEV_CA_LIFETIME = dt.timedelta(days=30)
ENV_NAME = "AUTONOMY_DEV_CA_DIR"


def create_dev_authority(directory: Path, cluster: str, namespace: str, zone: str,
                         lifetime: dt.timedelta = DEV_CA_LIFETIME) -> ZoneAuthority:
    """A new CA for `zone`, written to `directory` (created 0700; files 0600, never overwritten)."""
    authority = ZoneAuthority.create(cluster, namespace, zone, lifetime)
    directory.mkdir(mode=0o700, parents=False, exist_ok=False)
    os.chmod(directory, 0o700)  # whatever the umask
    _write_private(directory / CA_KEY_FILE, authority.key_pem())
    _write_private(directory / CA_CERT_FILE, authority.certificate_pem())
    return authority


def load_dev_authority(directory: Path) -> ZoneAuthority:
    """The CA `zone dev` left in `directory`; ValueError naming the problem and the fix."""
    where = f"{ENV_NAME}={directory}"
    _check_private(directory, where, is_dir=True)
    key_path, cert_path = directory / CA_KEY_FILE, directory / CA_CERT_FILE
    for path in (key_path, cert_path):
        _check_private(path, where, is_dir=False)
    try:
        return ZoneAuthority.from_pem(key_path.read_bytes(), cert_path.read_bytes())
    except ValueError as error:
        raise ValueError(f"{where}: not a zone CA ({error}); point it at the directory `zone dev` made") from None


def _write_private(path: Path, data: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)


def _check_private(path: Path, where: str, is_dir: bool) -> None:
    try:
        info = os.lstat(path)
    except OSError as error:
        raise ValueError(f"{where}: cannot read {path} ({error.strerror})") from None
    kind_ok = stat.S_ISDIR(info.st_mode) if is_dir else stat.S_ISREG(info.st_mode)
    if not kind_ok:
        raise ValueError(f"{where}: {path} is not a {'directory' if is_dir else 'regular file'} (no symlinks)")
    if info.st_uid != os.getuid():
        raise ValueError(f"{where}: {path} belongs to uid {info.st_uid}, not to this user ({os.getuid()})")
    if info.st_mode & 0o077:
        wanted = "0700" if is_dir else "0600"
        raise ValueError(f"{where}: {path} is mode {stat.S_IMODE(info.st_mode):04o}; "
                         f"others could read or replace the zone's CA (chmod {wanted})")

"""The user's CLI configuration in `~/.autonomy/config.yaml` (or `$AUTONOMY_HOME/config.yaml`).

`cluster enroll` writes which Kubernetes context (and kubeconfig) the CLI talks to and the id of the
`Cluster` found there; every other cluster command reads it. Flags override it per command.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

from autonomy.cli.exits import CliError, Exit


def home() -> Path:
    return Path(os.environ.get("AUTONOMY_HOME") or Path.home() / ".autonomy")


def config_path() -> Path:
    return home() / "config.yaml"


@dataclass
class UserConfig:
    context: str | None = None  # kubeconfig context; None = the kubeconfig's current context
    kubeconfig: str | None = None  # path; None = $KUBECONFIG or ~/.kube/config
    namespace: str | None = None  # where zones go; None = the context's namespace or "default"
    cluster_id: str | None = None
    cluster_name: str | None = None

    def save(self) -> Path:
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(yaml.safe_dump({k: v for k, v in asdict(self).items() if v is not None}))
        tmp.replace(path)
        return path


def load() -> UserConfig:
    path = config_path()
    if not path.exists():
        return UserConfig()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise CliError(f"{path}: not valid YAML ({error})", Exit.CONFIG) from error
    if not isinstance(data, dict):
        raise CliError(f"{path}: expected a mapping of settings", Exit.CONFIG)
    known = set(UserConfig.__dataclass_fields__)
    unknown = sorted(set(data) - known)
    if unknown:
        raise CliError(
            f"{path}: unknown settings {', '.join(unknown)} (allowed: {', '.join(sorted(known))})",
            Exit.CONFIG,
        )
    return UserConfig(**{k: (None if v is None else str(v)) for k, v in data.items()})

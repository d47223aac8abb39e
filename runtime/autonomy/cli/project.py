"""A zone's folder: finding `autonomy.yaml`, validating it, and reading `secrets.yaml` beside it.

Validation itself belongs to `autonomy.spec` (the same models generate the CRDs); this module turns
its `ZoneConfigError` into a `CliError` that lists every problem at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from autonomy.cli.exits import CliError, Exit

if TYPE_CHECKING:
    from autonomy.spec import ZoneSpec

CONFIG_NAMES = ("autonomy.yaml", "autonomy.yml")
SECRETS_NAME = "secrets.yaml"
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]+$")


@dataclass(frozen=True)
class Project:
    """A loaded zone folder: the validated spec, where it lives, and its secrets file (if any)."""

    root: Path
    config_path: Path
    spec: ZoneSpec

    def image_dir(self, image: str) -> Path:
        return self.root / "images" / image

    def is_local_image(self, image: str) -> bool:
        """Upstream rule: an image with no '/' is built from ./images/<image>/Dockerfile."""
        return "/" not in image


def find_config(config: Path | None) -> Path:
    if config is not None:
        if config.is_dir():
            return find_config_in(config)
        if not config.exists():
            raise CliError(f"{config}: no such file (pass --config PATH to autonomy.yaml)", Exit.CONFIG)
        return config
    return find_config_in(Path.cwd())


def find_config_in(folder: Path) -> Path:
    for name in CONFIG_NAMES:
        if (folder / name).exists():
            return folder / name
    raise CliError(
        f"no autonomy.yaml in {folder}: run in a zone's folder or pass --config PATH",
        Exit.CONFIG,
    )


def load_project(config: Path | None) -> Project:
    from autonomy.spec import ZoneConfigError, load_zone

    path = find_config(config).resolve()
    try:
        spec = load_zone(path)
    except ZoneConfigError as error:
        raise CliError(
            f"{path}: {len(error.problems)} problem(s)", Exit.CONFIG, details=list(error.problems)
        ) from error
    return Project(root=path.parent, config_path=path, spec=spec)


def load_secrets(path: Path | None, root: Path, *, required: bool = False) -> dict[str, str]:
    """Read a secrets file: a flat `KEY: value` map, or upstream's raw `[{name, fields: {...}}]` list.

    With no `path`, `secrets.yaml` beside autonomy.yaml is used when it exists.
    """
    if path is None:
        path = root / SECRETS_NAME
        if not path.exists():
            if required:
                raise CliError(f"{path}: no such file", Exit.CONFIG)
            return {}
    elif not path.exists():
        raise CliError(f"{path}: no such file (--secrets PATH)", Exit.CONFIG)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise CliError(f"{path}: not valid YAML ({error})", Exit.CONFIG) from error
    return parse_secrets(data, str(path))


def parse_secrets(data: object, where: str) -> dict[str, str]:
    problems: list[str] = []
    secrets: dict[str, str] = {}
    if data is None:
        return {}
    if isinstance(data, list):  # upstream's raw form: [{name: secret, fields: {KEY: value}}]
        merged: dict[object, object] = {}
        for i, entry in enumerate(data):
            if not isinstance(entry, dict) or not isinstance(entry.get("fields"), dict):
                problems.append(f"[{i}]: expected {{name, fields: {{KEY: value}}}}")
                continue
            merged.update(entry["fields"])
        data = merged
    if not isinstance(data, dict):
        raise CliError(f"{where}: expected a map of KEY: value", Exit.CONFIG)
    for key, value in data.items():
        if not isinstance(key, str) or not _SECRET_KEY.match(key):
            problems.append(f"{key!r}: invalid key (letters, digits, '-', '_' and '.')")
        elif isinstance(value, dict | list) or value is None:
            problems.append(f"{key}: expected a string, number or boolean value")
        else:
            secrets[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if problems:
        raise CliError(f"{where}: {len(problems)} problem(s)", Exit.CONFIG, details=problems)
    return secrets

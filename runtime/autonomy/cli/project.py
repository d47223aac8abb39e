"""A zone's folder: finding `autonomy.yaml`, validating it, and reading `secrets.yaml` beside it.

Validation itself belongs to `autonomy.spec` (the same models generate the CRDs); this module turns
its `ZoneConfigError` into a `CliError` that lists every problem at once (the first MAX_LISTED of
them, and how many more). Both files are read within the bounds of `autonomy.spec.yamlfile`, so a
hostile file is exit 3 (Exit.CONFIG) with a message naming it, never a traceback or a hang.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autonomy.cli.exits import CliError, Exit

if TYPE_CHECKING:
    from autonomy.spec import ZoneSpec

CONFIG_NAMES = ("autonomy.yaml", "autonomy.yml")
SECRETS_NAME = "secrets.yaml"
_SECRET_KEY = re.compile(r"^[-._a-zA-Z0-9]{1,253}$")  # a key of a Kubernetes Secret
#: Problems listed one per line; a file with more gets a count of the rest.
MAX_LISTED = 50


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
            f"{path}: {len(error.problems)} problem(s)", Exit.CONFIG, details=_listed(error.problems)
        ) from None
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
    from autonomy.spec.yamlfile import YamlFileError, read_yaml

    try:
        data = read_yaml(path)
    except YamlFileError as error:
        raise CliError(str(error), Exit.CONFIG) from None
    return parse_secrets(data, str(path))


def _listed(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_LISTED:
        return list(problems)
    return [*problems[:MAX_LISTED], f"... and {len(problems) - MAX_LISTED} more"]


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
            shown = repr(key) if len(repr(key)) <= 80 else f"{repr(key)[:75]}..."
            problems.append(f"{shown}: invalid key (1-253 letters, digits, '-', '_' and '.')")
        elif isinstance(value, dict | list) or value is None:
            problems.append(f"{key}: expected a string, number or boolean value")
        else:
            secrets[key] = str(value).lower() if isinstance(value, bool) else str(value)
    if problems:
        raise CliError(f"{where}: {len(problems)} problem(s)", Exit.CONFIG, details=_listed(problems))
    return secrets

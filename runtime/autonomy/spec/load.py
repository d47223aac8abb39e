"""Reading `autonomy.yaml`: every problem at once, each naming its field and the fix.

`parse_zone` turns a mapping into a `ZoneSpec` or raises `ZoneConfigError` listing every problem
as `<field path>: <what is wrong> (<what is allowed / the fix>)`. Pydantic finds the field errors;
this module words them for people and adds the rules that span several entries. `load_zone` reads
the file within the bounds of `yamlfile` (size, nesting, aliases, UTF-8) and adds the rules of a
zone's folder that a Zone resource does not have (local image names are folders of images/).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from autonomy.spec import rules
from autonomy.spec.yamlfile import YamlFileError, read_yaml
from autonomy.spec.zone import ContainerSpec, EnvVar, PodSpec, ZoneSpec, cross_field_problems

__all__ = ["LOCAL_IMAGE", "ZoneConfigError", "load_zone", "parse_zone"]

#: A local image (no '/') names its folder images/<name>/ and becomes part of a Docker reference
#: (`<registry>/<zone>-<name>:<tag>`): a Docker path component, so never `.`, `..` or a path.
LOCAL_IMAGE = rules.NameRule(
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*",
    63,
    "1-63 characters of a-z, 0-9, '.', '_' and '-', starting and ending with a letter or digit, the name "
    "of its folder images/<name>/; an image of a registry is written with it, e.g. docker.io/library/python:3.12",
)
#: Longest rendering of a refused value in a problem (a hostile value may be megabytes).
_MAX_SHOWN = 80

#: Keys of upstream's autonomy.yaml that only its hosted platform acts on (Ockam portals); accepted
#: so apps written for it deploy unchanged, and ignored.
_IGNORED_POD_KEYS = frozenset(
    {"portals", "portal", "inlets", "inlet", "tcp-inlets", "tcp-inlet", "outlets", "outlet", "tcp-outlets"}
)
_ALLOWED: dict[str, list[str]] = {
    "zone": ["name", "pods", "suspend"],
    "pod": list(PodSpec.model_fields),
    "container": [f.alias or n for n, f in ContainerSpec.model_fields.items()],
    "env": list(EnvVar.model_fields),
}


class ZoneConfigError(ValueError):
    """autonomy.yaml (or a Zone spec) is not valid; `problems` lists every error, one line each."""

    def __init__(self, problems: list[str], source: str | None = None) -> None:
        self.problems = list(problems)
        self.source = source
        head = f"{source}: " if source else ""
        super().__init__(f"{head}invalid zone configuration:\n" + "\n".join(f"  {p}" for p in self.problems))


def load_zone(path: str | Path) -> ZoneSpec:
    """Read and validate an autonomy.yaml (YAML or JSON) file."""
    path = Path(path)
    try:
        data = read_yaml(path)
    except YamlFileError as error:
        raise ZoneConfigError([error.problem], str(path)) from None
    try:
        spec = parse_zone(data)
    except ZoneConfigError as error:
        raise ZoneConfigError(error.problems + _local_image_problems(data), str(path)) from None
    problems = _local_image_problems(data)
    if problems:
        raise ZoneConfigError(problems, str(path))
    return spec


def _local_image_problems(data: Any) -> list[str]:
    """Local image names (no '/') that cannot be a folder of images/ and a Docker name; raw data, tolerant."""
    problems: list[str] = []
    pods = data.get("pods") if isinstance(data, Mapping) else None
    for i, pod in enumerate(pods if isinstance(pods, list) else []):
        containers = pod.get("containers") if isinstance(pod, Mapping) else None
        for j, container in enumerate(containers if isinstance(containers, list) else []):
            image = container.get("image") if isinstance(container, Mapping) else None
            if not isinstance(image, str) or not image or "/" in image:
                continue  # reported by field validation, or an image used as it is
            if len(image) > LOCAL_IMAGE.max_length or not LOCAL_IMAGE.matches(image):
                problems.append(
                    f"pods[{i}].containers[{j}].image: {_shown(image)} is not a local image name "
                    f"({LOCAL_IMAGE.allowed})"
                )
    return problems


def _shown(value: Any) -> str:
    """`repr(value)`, cut to _MAX_SHOWN characters."""
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else f"{text[: _MAX_SHOWN - 5]}...{text[-2:]}"


def parse_zone(data: Any) -> ZoneSpec:
    """Validate autonomy.yaml content (already parsed into Python objects) into a `ZoneSpec`."""
    if not isinstance(data, Mapping):
        raise ZoneConfigError(
            [f"(top level): a mapping with `name` and `pods` is required, not {type(data).__name__}"]
        )
    data = _prepare(data)
    problems = cross_field_problems(data.get("pods"))
    try:
        return ZoneSpec.model_validate(data) if not problems else _validate_for_problems(data, problems)
    except ValidationError as error:
        raise ZoneConfigError(_field_problems(error) + problems) from None


def _validate_for_problems(data: Mapping[str, Any], problems: list[str]) -> ZoneSpec:
    """Cross-field problems are known: validate anyway to report field problems beside them."""
    try:
        ZoneSpec.model_validate(data)
    except ValidationError as error:
        raise ZoneConfigError(_field_problems(error) + problems) from None
    raise ZoneConfigError(problems)  # pragma: no cover (the model refuses what cross_field_problems finds)


def _prepare(data: Mapping[str, Any]) -> dict[str, Any]:
    """Apply upstream's aliases and drop the keys it passes through to its platform."""
    out = dict(data)
    if "zone_name" in out and "name" not in out:
        out["name"] = out.pop("zone_name")
    pods = out.get("pods")
    if isinstance(pods, list):
        out["pods"] = [
            {k: v for k, v in p.items() if k not in _IGNORED_POD_KEYS} if isinstance(p, Mapping) else p
            for p in pods
        ]
    return out


def _path(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text or "(top level)"


def _kind(loc: tuple[int | str, ...]) -> str:
    """Which object a location is in: zone, pod, container or env."""
    names = [p for p in loc if isinstance(p, str)]
    if "env" in names:
        return "env"
    if "containers" in names:
        return "container"
    if "pods" in names:
        return "pod"
    return "zone"


def _field_problems(error: ValidationError) -> list[str]:
    problems: list[str] = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        kind, ctx, value = item["type"], item.get("ctx") or {}, item.get("input")
        if kind == "zone_rules":
            continue  # reported by cross_field_problems with a precise path
        path = _path(loc)
        if kind == "missing":
            message = f"is required (add `{loc[-1]}`)"
        elif kind == "extra_forbidden":
            allowed = ", ".join(_ALLOWED[_kind(loc[:-1])])
            message = f"is not a known field (allowed: {allowed})"
        elif kind == "literal_error":
            expected = str(ctx.get("expected", "")).replace("'", "").replace(" or ", ", ")
            message = f"{_shown(value)} is not allowed (one of: {expected})"
        elif kind in ("greater_than_equal", "less_than_equal", "int_parsing", "int_from_float"):
            message = (
                f"{_shown(value)} is not allowed (a whole number from {rules.CLONES_MIN} to {rules.CLONES_MAX})"
            )
        elif kind == "too_short" and loc[-1] == "pods":
            message = "is empty (a zone needs at least one pod)"
        elif kind == "too_short" and loc[-1] == "containers":
            message = "is empty (a pod needs at least one container)"
        elif kind == "too_long":
            message = f"has too many entries (at most {ctx.get('max_length')})"
        elif kind == "string_too_short" and loc[-1] == "image":
            message = "is empty (an image name, e.g. `main` or `ghcr.io/org/tool:1.0`)"
        elif kind in ("string_type", "bool_type", "bool_parsing", "list_type", "model_type", "dict_type"):
            wanted = {
                "string_type": "a string",
                "bool_type": "true or false",
                "bool_parsing": "true or false",
                "list_type": "a list",
                "model_type": "a mapping",
                "dict_type": "a mapping",
            }[kind]
            if (loc and loc[-2:-1] == ("env",)) or (len(loc) > 1 and loc[-1] == "env"):
                wanted += " (env is a map KEY: value, or a list of KEY: value or {name, value})"
            message = f"{_shown(value)} is not allowed ({wanted})"
        else:
            message = item["msg"]
            if not message.endswith(")"):
                message = f"{message} (see autonomy.yaml reference)"
        problems.append(f"{path}: {message}")
    return problems

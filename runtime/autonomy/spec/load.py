"""Reading `autonomy.yaml`: every problem at once, each naming its field and the fix.

`parse_zone` turns a mapping into a `ZoneSpec` or raises `ZoneConfigError` listing every problem
as `<field path>: <what is wrong> (<what is allowed / the fix>)`. Pydantic finds the field errors;
this module words them for people and adds the rules that span several entries.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from autonomy.spec import rules
from autonomy.spec.zone import ContainerSpec, EnvVar, PodSpec, ZoneSpec, cross_field_problems

__all__ = ["ZoneConfigError", "load_zone", "parse_zone"]

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
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ZoneConfigError([f"{path}: cannot be read ({error.strerror or error})"], str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "the file"
        problem = getattr(error, "problem", None) or str(error)
        raise ZoneConfigError([f"{where}: not valid YAML: {problem} (fix the syntax)"], str(path)) from None
    try:
        return parse_zone(data)
    except ZoneConfigError as error:
        raise ZoneConfigError(error.problems, str(path)) from None


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
            message = f"{value!r} is not allowed (one of: {expected})"
        elif kind in ("greater_than_equal", "less_than_equal", "int_parsing", "int_from_float"):
            message = (
                f"{value!r} is not allowed (a whole number from {rules.CLONES_MIN} to {rules.CLONES_MAX})"
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
            message = f"{value!r} is not allowed ({wanted})"
        else:
            message = item["msg"]
            if not message.endswith(")"):
                message = f"{message} (see autonomy.yaml reference)"
        problems.append(f"{path}: {message}")
    return problems

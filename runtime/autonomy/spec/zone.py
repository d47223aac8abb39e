"""The zone: `autonomy.yaml` as typed data, and the `Zone` custom resource made from it.

These models are the one source of truth for a zone's shape. The CLI validates `autonomy.yaml`
with them, and the operator's CRD schema is generated from them (`autonomy_operator.crdgen`), so a
field added here appears in both. Field validators give Python the same refusals the CRD's CEL
rules give `kubectl apply` (the rules live in `rules.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from autonomy.spec import rules
from autonomy.spec.rules import NameRule

__all__ = ["API_VERSION", "GROUP", "ContainerSpec", "EnvVar", "PodSpec", "Size", "ZoneSpec", "secret_name"]

GROUP = "autonomy.computer"
API_VERSION = f"{GROUP}/v1alpha1"

Size = Literal["regular", "big"]


def _rule(rule: NameRule) -> AfterValidator:
    def check(value: str) -> str:
        if not rule.matches(value):
            raise PydanticCustomError(
                "name_rule",
                "{value} is not allowed ({allowed})",
                {"value": repr(value), "allowed": rule.allowed},
            )
        return value

    return AfterValidator(check)


def _cel(rule: NameRule, what: str) -> dict[str, Any]:
    return {
        "maxLength": rule.max_length,
        "x-kubernetes-validations": [{"rule": rule.cel(), "message": f"{what} must be {rule.allowed}"}],
    }


def _cel_list(items: list[str]) -> str:
    return "[" + ", ".join(f"'{i}'" for i in items) + "]"


PodName = Annotated[
    str,
    _rule(rules.POD_NAME),
    Field(
        description=f"Name of the pod, unique in the zone: {rules.POD_NAME.allowed}. "
        f"With several pods, one must be `{rules.MAIN_POD}`.",
        json_schema_extra=_cel(rules.POD_NAME, "pod name"),
    ),
]
ContainerName = Annotated[
    str,
    _rule(rules.CONTAINER_NAME),
    Field(
        description=f"Name of the container, unique in its pod: {rules.CONTAINER_NAME.allowed}.",
        json_schema_extra=_cel(rules.CONTAINER_NAME, "container name"),
    ),
]
EnvName = Annotated[
    str,
    _rule(rules.ENV_NAME),
    Field(
        description=f"Name of the environment variable: {rules.ENV_NAME.allowed}.",
        json_schema_extra={
            **_cel(rules.ENV_NAME, "env name"),
            "x-kubernetes-validations": [
                *_cel(rules.ENV_NAME, "env name")["x-kubernetes-validations"],
                {
                    "rule": f"!(self in {_cel_list(sorted(rules.RESERVED_ENV))})",
                    "message": f"env may not set {', '.join(sorted(rules.RESERVED_ENV))} "
                    "(the operator sets them)",
                },
            ],
        },
    ),
]


def secret_name(zone: str) -> str:
    """The Secret holding a zone's `secrets.yaml` (the CLI creates it; env `secrets.KEY` reads it)."""
    return f"{zone}-secrets"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class EnvVar(_Model):
    """One environment variable of a container; a value `secrets.KEY` reads KEY of the zone's Secret."""

    name: EnvName
    value: str = Field(
        default="",
        max_length=rules.MAX_VALUE_LENGTH,
        description="Value of the variable. `secrets.KEY` takes it from key KEY of the zone's Secret "
        "(`<zone>-secrets`, made from secrets.yaml).",
    )

    @field_validator("value")
    @classmethod
    def _secret_key(cls, value: str) -> str:
        if value.startswith(rules.SECRET_PREFIX) and not rules.SECRET_KEY.matches(
            value[len(rules.SECRET_PREFIX) :]
        ):
            raise PydanticCustomError(
                "secret_key",
                "{value} is not a valid secret reference (secrets.KEY where KEY is {allowed})",
                {"value": repr(value), "allowed": rules.SECRET_KEY.allowed},
            )
        return value

    @property
    def secret_key(self) -> str | None:
        """The key of the zone's Secret this variable reads, or None for a plain value."""
        if self.value.startswith(rules.SECRET_PREFIX):
            return self.value[len(rules.SECRET_PREFIX) :]
        return None


def _scalar(value: Any) -> Any:
    """YAML turns `PORT: 8000` into an int and `DEBUG: yes` into a bool; env values are strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return ""
    return value


def normalize_env(env: Any) -> Any:
    """Accept the three forms of `env` in autonomy.yaml and return the list of {name, value} maps.

    A map `{KEY: value}`; a list of single-key maps `[{KEY: value}]`; or a list of `{name, value}`
    maps. Anything else is returned unchanged for the model to refuse with a precise path.
    """
    if env is None:
        return []
    if isinstance(env, Mapping):
        return [{"name": k, "value": _scalar(v)} for k, v in env.items()]
    if not isinstance(env, list):
        return env
    out: list[Any] = []
    for entry in env:
        if isinstance(entry, Mapping) and "name" in entry and set(entry) <= {"name", "value"}:
            out.append({"name": entry["name"], "value": _scalar(entry.get("value"))})
        elif isinstance(entry, Mapping) and len(entry) == 1:
            ((k, v),) = entry.items()
            out.append({"name": k, "value": _scalar(v)})
        else:
            out.append(entry)
    return out


class ContainerSpec(_Model):
    """A container of a pod. Containers of one pod share its network (they talk over localhost)."""

    name: ContainerName
    image: str = Field(
        min_length=1,
        max_length=rules.MAX_IMAGE_LENGTH,
        description="Image of the container. Without '/', a local image (images/<name>/Dockerfile) that "
        "the CLI builds and pushes to the cluster's registry; with '/', an image used as is.",
    )
    node: bool | None = Field(
        default=None,
        description="Whether the container runs an Autonomy node, which gets the node's ports (8000 http, "
        "50051 transport) and probes (/readyz, /healthz). Unset: the pod's local-image container "
        "named `main`, else its first local-image container, is the node; `autonomy zone deploy` "
        "writes it for every container, since it renames local images. With several node "
        "containers, the one named `main` (else the first) is the pod's node on 8000 and 50051; "
        "the others serve on 8000+100k and 50051+100k (k = 1, 2, ...).",
    )
    env: list[EnvVar] = Field(
        default_factory=list,
        max_length=rules.MAX_ENV,
        description="Environment variables, names unique. In autonomy.yaml a map, a list of single-key "
        "maps, or a list of {name, value}.",
        # Unique names by list-map keys: structural, so no CEL cost at admission.
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    args: list[Annotated[str, Field(max_length=rules.MAX_VALUE_LENGTH, description="One argument.")]] = Field(
        default_factory=list,
        max_length=rules.MAX_ARGS,
        description="Arguments passed to the image's entrypoint.",
    )
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None,
        alias="imagePullPolicy",
        description="When the kubelet pulls the image (Kubernetes' default when absent).",
    )

    @field_validator("node", mode="before")
    @classmethod
    def _node_flag(cls, node: Any) -> Any:
        if node is not None and not isinstance(node, bool):  # no "yes"/1 coercion: say what is meant
            raise PydanticCustomError(
                "node_flag", "{value} is not true or false (set node: true or node: false)", {"value": repr(node)}
            )
        return node

    @field_validator("env", mode="before")
    @classmethod
    def _env_forms(cls, env: Any) -> Any:
        return normalize_env(env)

    @field_validator("args", mode="before")
    @classmethod
    def _args_strings(cls, args: Any) -> Any:
        if isinstance(args, list):
            return [_scalar(a) if not isinstance(a, str) and a is not None else a for a in args]
        return [] if args is None else args

    @property
    def is_local_image(self) -> bool:
        """True for an image built from the zone's images/ folder (no registry or path in it)."""
        return "/" not in self.image


class PodSpec(_Model):
    """A pod of the zone: a Deployment of `clones` identical Kubernetes pods, each one a node."""

    name: PodName
    public: bool = Field(default=False, description="Serve port 8000 of this pod at the zone's URL.")
    size: Size = Field(
        default="regular",
        description="Resources of each clone, shared by its containers: regular = 250m CPU and 256Mi, "
        "big = 4 CPU and 2Gi (the Cluster may override the table).",
    )
    clones: int = Field(
        default=1,
        ge=rules.CLONES_MIN,
        le=rules.CLONES_MAX,
        description=f"Number of identical copies of the pod ({rules.CLONES_MIN}-{rules.CLONES_MAX}); "
        "each clone is its own node.",
    )
    containers: list[ContainerSpec] = Field(
        min_length=1,
        max_length=rules.MAX_CONTAINERS,
        description="Containers of the pod, names unique in the pod.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(c, self.exists_one(d, d.name == c.name))",
                    "message": "container names must be unique in a pod",
                },
            ]
        },
    )

    @model_validator(mode="before")
    @classmethod
    def _settle_nodes(cls, data: Any) -> Any:
        """Write down which containers are nodes, so that renaming an image later cannot change it."""
        if not isinstance(data, Mapping) or not isinstance(data.get("containers"), list):
            return data  # malformed: field validation reports it
        containers = data["containers"]
        default = _default_node(containers)
        settled = [_with_node(c, i == default) for i, c in enumerate(containers)]
        return {**data, "containers": settled}

    @property
    def node_containers(self) -> list[ContainerSpec]:
        """The containers that run a node, in the order of the spec."""
        return [c for c in self.containers if c.node]

    @property
    def node_container(self) -> ContainerSpec | None:
        """The pod's node (its ports 8000 and 50051 are the pod's): the node container named `main`,
        else the first node container; None for a pod of tools only."""
        nodes = self.node_containers
        named = [c for c in nodes if c.name == "main"]
        candidates = named or nodes
        return candidates[0] if candidates else None


def _default_node(containers: list[Any]) -> int | None:
    """The index of the container that is the node when the spec does not say (`node` unset).

    The rule from before `node` existed: the local-image container named `main`, else the first
    local-image container (a local image has no '/'; the CLI builds it from images/<name>/).
    """

    def get(container: Any, key: str) -> Any:
        return container.get(key) if isinstance(container, Mapping) else getattr(container, key, None)

    local = [
        i for i, c in enumerate(containers) if isinstance(get(c, "image"), str) and "/" not in get(c, "image")
    ]
    named = [i for i in local if get(containers[i], "name") == "main"]
    candidates = named or local
    return candidates[0] if candidates else None


def _with_node(container: Any, default: bool) -> Any:
    """The container with `node` set: its own value, else `default`."""
    if isinstance(container, ContainerSpec):
        return container if container.node is not None else container.model_copy(update={"node": default})
    if isinstance(container, Mapping) and container.get("node") is None:
        return {**container, "node": default}
    return container


def cross_field_problems(pods: Any) -> list[str]:
    """Rules that span several entries (unique names, the main pod), on raw or validated data.

    Tolerant of malformed input: whatever cannot be read here is reported by field validation.
    """
    problems: list[str] = []

    def name_of(item: Any) -> Any:
        return item.get("name") if isinstance(item, Mapping) else getattr(item, "name", None)

    def items_of(item: Any, key: str) -> list[Any]:
        value = item.get(key) if isinstance(item, Mapping) else getattr(item, key, None)
        return value if isinstance(value, list) else []

    if not isinstance(pods, list):
        return problems
    seen: dict[Any, int] = {}
    for i, pod in enumerate(pods):
        name = name_of(pod)
        if isinstance(name, str):
            if name in seen:
                problems.append(
                    f"pods[{i}].name: {name!r} is used by pods[{seen[name]}] too (pod names must be unique)"
                )
            else:
                seen[name] = i
        containers_seen: dict[Any, int] = {}
        for j, container in enumerate(items_of(pod, "containers")):
            cname = name_of(container)
            if isinstance(cname, str):
                if cname in containers_seen:
                    problems.append(
                        f"pods[{i}].containers[{j}].name: {cname!r} is used by "
                        f"pods[{i}].containers[{containers_seen[cname]}] too "
                        "(container names must be unique in a pod)"
                    )
                else:
                    containers_seen[cname] = j
            env = container.get("env") if isinstance(container, Mapping) else getattr(container, "env", None)
            env_seen: set[str] = set()
            for k, entry in enumerate(normalize_env(env) if not isinstance(env, tuple) else list(env)):
                ename = name_of(entry)
                if not isinstance(ename, str):
                    continue
                where = f"pods[{i}].containers[{j}].env[{k}]"
                if ename in env_seen:
                    problems.append(
                        f"{where}.name: {ename!r} is set twice (env names must be unique in a container)"
                    )
                env_seen.add(ename)
                if ename in rules.RESERVED_ENV:
                    problems.append(
                        f"{where}.name: {ename!r} is set by the operator "
                        f"(remove it; reserved: {', '.join(sorted(rules.RESERVED_ENV))})"
                    )
    names = [name_of(p) for p in pods]
    if len(pods) > 1 and rules.MAIN_POD not in names:
        problems.append(
            f"pods: no pod is named {rules.MAIN_POD!r} "
            f"(with several pods, name the entry-point pod {rules.MAIN_POD!r})"
        )
    return problems


class ZoneSpec(_Model):
    """A zone: an app of pods, as written in `autonomy.yaml`."""

    name: Annotated[str, _rule(rules.ZONE_NAME)] = Field(
        alias="name", description=f"Name of the zone: {rules.ZONE_NAME.allowed}."
    )
    pods: list[PodSpec] = Field(
        min_length=1,
        max_length=rules.MAX_PODS,
        description=f"Pods of the zone, names unique; with several pods, one must be `{rules.MAIN_POD}`.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self.all(p, self.exists_one(q, q.name == p.name))",
                    "message": "pod names must be unique in a zone",
                },
                {
                    "rule": f"size(self) == 1 || self.exists(p, p.name == '{rules.MAIN_POD}')",
                    "message": f"with several pods, one must be named {rules.MAIN_POD}",
                },
            ]
        },
    )
    suspend: bool = Field(
        default=False,
        description="Scale every pod of the zone to zero while keeping its objects (Zone resource only).",
    )

    @model_validator(mode="after")
    def _cross_field(self) -> ZoneSpec:
        problems = cross_field_problems(list(self.pods))
        if problems:
            raise PydanticCustomError("zone_rules", "{problems}", {"problems": "; ".join(problems)})
        return self

    @property
    def main_pod(self) -> PodSpec:
        """The zone's entry point: `main-pod`, or its only pod."""
        for pod in self.pods:
            if pod.name == rules.MAIN_POD:
                return pod
        return self.pods[0]

    def secret_keys(self) -> set[str]:
        """Every key of the zone's Secret that some container reads."""
        return {e.secret_key for p in self.pods for c in p.containers for e in c.env if e.secret_key}

    def crd_spec(self) -> dict[str, Any]:
        """The `spec` of the Zone resource: autonomy.yaml in normalized form, without the name."""
        spec = self.model_dump(mode="json", by_alias=True, exclude={"name"}, exclude_none=True)
        if not self.suspend:
            spec.pop("suspend", None)
        return spec

    def zone_manifest(self, namespace: str) -> dict[str, Any]:
        """The `Zone` custom resource for this zone in `namespace`, ready for `kubectl apply`."""
        return {
            "apiVersion": API_VERSION,
            "kind": "Zone",
            "metadata": {"name": self.name, "namespace": namespace},
            "spec": self.crd_spec(),
        }

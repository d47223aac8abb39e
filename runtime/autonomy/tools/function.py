"""`Tool(fn)`: a Python function as a tool, its schema read from the signature, type hints and docstring.

Arguments from the model are validated and coerced with pydantic ("5" -> 5, "true" -> True), unknown or
missing ones are refused with a message naming the field, and any exception comes back to the model as
text: a bad tool call never crashes the agent.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable
from typing import Any, get_type_hints

import pydantic

from autonomy.tools.base import MAX_ARGUMENTS_BYTES, failure

_NAME = re.compile(r"^[a-z0-9_-]{1,64}$")
_DOC_TYPES = {"bool": bool, "int": int, "float": float, "str": str, "list": list, "dict": dict}


def parse_docstring(doc: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """Split a docstring into (description, {param: description}, {param: type name}).

    Understands Google style (`Args:` / `name (type): text`) and Sphinx style (`:param name:`, `:type name:`).
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    descriptions: dict[str, str] = {}
    types: dict[str, str] = {}
    in_args = False
    current: str | None = None
    for line in lines:
        stripped = line.strip()
        sphinx = re.match(r"^:param\s+(?:(\w+)\s+)?(\w+):\s*(.*)$", stripped)
        sphinx_type = re.match(r"^:type\s+(\w+):\s*(.*)$", stripped)
        if sphinx:
            if sphinx.group(1):
                types[sphinx.group(2)] = sphinx.group(1)
            descriptions[sphinx.group(2)] = sphinx.group(3)
            continue
        if sphinx_type:
            types[sphinx_type.group(1)] = sphinx_type.group(2).strip()
            continue
        if stripped.startswith(":"):
            continue
        if re.match(r"^(Args|Arguments|Parameters|Params):\s*$", stripped):
            in_args = True
            continue
        if in_args and re.match(r"^(Returns|Raises|Yields|Examples?|Notes?):\s*$", stripped):
            in_args = False
            current = None
            continue
        if in_args:
            item = re.match(r"^(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$", stripped)
            if item:
                current = item.group(1)
                if item.group(2):
                    types[current] = item.group(2).split(",")[0].strip()
                descriptions[current] = item.group(3)
            elif current and stripped:
                descriptions[current] += " " + stripped
            continue
        if not descriptions:
            summary.append(line)
    return "\n".join(summary).strip(), descriptions, types


def _schema_for(annotation: Any) -> tuple[Any, dict[str, Any]]:
    """(annotation used for validation, JSON schema); anything pydantic cannot describe becomes a string."""
    if annotation is inspect.Parameter.empty or annotation is Any:
        return Any, {}
    try:
        schema = pydantic.TypeAdapter(annotation).json_schema()
        return annotation, schema
    except Exception:
        return str, {"type": "string"}


class Tool:
    """A Python function (sync or async) as a tool. Also usable as a decorator: `@Tool`."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None, description: str | None = None) -> None:
        if not callable(fn):
            raise TypeError(f"Tool(fn): fn must be a function, got {type(fn).__name__}")
        self.fn = fn
        self._name: str = name or str(getattr(fn, "__name__", ""))
        if not _NAME.match(self._name):
            raise ValueError(
                f"tool name {self._name!r} must match ^[a-z0-9_-]+$ (lowercase, digits, '_' or '-'): "
                "rename the function or pass Tool(fn, name='...')"
            )
        summary, param_docs, doc_types = parse_docstring(inspect.getdoc(fn) or "")
        self.description = description if description is not None else summary
        try:
            hints = get_type_hints(fn)
        except Exception:
            hints = {}
        properties: dict[str, Any] = {}
        required: list[str] = []
        fields: dict[str, Any] = {}
        self._accepts_kwargs = False
        for parameter in inspect.signature(fn).parameters.values():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                self._accepts_kwargs = True
                continue
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
                continue
            annotation = hints.get(parameter.name, parameter.annotation)
            if parameter.name in doc_types and doc_types[parameter.name] in _DOC_TYPES:
                annotation = _DOC_TYPES[doc_types[parameter.name]]  # docstring types take precedence
            annotation, schema = _schema_for(annotation)
            schema = {k: v for k, v in schema.items() if k != "title"}
            if parameter.name in param_docs:
                schema["description"] = param_docs[parameter.name]
            if parameter.default is inspect.Parameter.empty:
                required.append(parameter.name)
                fields[parameter.name] = (annotation, ...)
            else:
                fields[parameter.name] = (annotation, parameter.default)
                if parameter.default is None or isinstance(parameter.default, str | int | float | bool):
                    schema["default"] = parameter.default
            properties[parameter.name] = schema
        self.parameters: dict[str, Any] = {"type": "object", "properties": properties, "required": required}
        self._arguments = pydantic.create_model(  # type: ignore[call-overload]
            f"{self._name}_arguments",
            __config__=pydantic.ConfigDict(extra="allow" if self._accepts_kwargs else "forbid"),
            **fields,
        )

    @property
    def name(self) -> str:
        return self._name

    # The argument model is a class built at run time: ship the function and rebuild it on arrival.
    def __getstate__(self) -> dict[str, Any]:
        return {"fn": self.fn, "name": self._name, "description": self.description}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["fn"], state["name"], state["description"])  # type: ignore[misc]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"Tool({self._name!r})"

    async def spec(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {"name": self._name, "description": self.description, "parameters": self.parameters},
        }

    def validate(self, json_argument: str | None) -> dict[str, Any]:
        """Parse and coerce the model's arguments; ValueError names the field and what was wrong."""
        text = (json_argument or "").strip()
        if len(text.encode()) > MAX_ARGUMENTS_BYTES:
            raise ValueError(f"arguments are over {MAX_ARGUMENTS_BYTES} bytes")
        try:
            raw = json.loads(text) if text else {}
        except json.JSONDecodeError as error:
            raise ValueError(f"arguments are not valid JSON: {error}") from error
        if not isinstance(raw, dict):
            raise ValueError(f"arguments must be a JSON object, got {type(raw).__name__}")
        try:
            parsed = self._arguments.model_validate(raw)
        except pydantic.ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: "
                + ("unknown argument" if e["type"] == "extra_forbidden" else e["msg"])
                for e in error.errors()
            )
            raise ValueError(f"invalid arguments for tool {self._name!r}: {problems}") from None
        values = {name: getattr(parsed, name) for name in type(parsed).model_fields}
        values.update(parsed.model_extra or {})
        return values

    async def invoke(self, json_argument: str | None) -> str:
        try:
            arguments = self.validate(json_argument)
            if inspect.iscoroutinefunction(self.fn):
                result = await self.fn(**arguments)
            else:
                # A blocking function must not stall every other conversation on the node.
                result = await asyncio.to_thread(self.fn, **arguments)
                if inspect.isawaitable(result):
                    result = await result
        except Exception as error:
            return failure(error)
        return result if isinstance(result, str) else json.dumps(result, default=str)

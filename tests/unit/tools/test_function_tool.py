from __future__ import annotations

import asyncio
import json

import pytest

from autonomy.tools import Tool, time_tools


def get_weather(city: str, days: int = 1, metric: bool = True) -> str:
    """Get the weather forecast.

    Args:
        city: the city name
        days (int): how many days ahead
    """
    return f"{city}|{days}|{metric}"


async def slow_double(x: float) -> float:
    """Double a number."""
    await asyncio.sleep(0)
    return x * 2


async def test_schema_from_signature_and_docstring() -> None:
    spec = (await Tool(get_weather).spec())["function"]
    assert spec["name"] == "get_weather" and spec["description"] == "Get the weather forecast."
    props = spec["parameters"]["properties"]
    assert props["city"] == {"type": "string", "description": "the city name"}
    assert props["days"]["type"] == "integer" and props["days"]["default"] == 1
    assert props["metric"]["type"] == "boolean"
    assert spec["parameters"]["required"] == ["city"]


async def test_arguments_are_coerced() -> None:
    assert await Tool(get_weather).invoke('{"city": "Oslo", "days": "5", "metric": "false"}') == "Oslo|5|False"
    assert json.loads(await Tool(slow_double).invoke('{"x": "2.5"}')) == 5.0


async def test_bad_arguments_name_the_field_and_never_raise() -> None:
    result = await Tool(get_weather).invoke('{"days": "many", "color": "red"}')
    assert result.startswith("Tool execution failed: ValueError")
    assert "city: Field required" in result and "days:" in result and "color: unknown argument" in result
    assert "not valid JSON" in await Tool(get_weather).invoke("{nope")
    assert "JSON object" in await Tool(get_weather).invoke("[1]")
    assert "over 1000000 bytes" in await Tool(get_weather).invoke(json.dumps({"city": "x" * 1_000_001}))


async def test_exceptions_come_back_as_text() -> None:
    def boom() -> str:
        """Explode."""
        raise KeyError("missing")

    assert await Tool(boom).invoke("") == "Tool execution failed: KeyError: 'missing'"


def test_name_rule_is_explained() -> None:
    def GetThing() -> None:
        """x"""

    with pytest.raises(ValueError, match="lowercase"):
        Tool(GetThing)


def test_decorator_keeps_function_callable() -> None:
    @Tool
    def shout(text: str) -> str:
        """Shout."""
        return text.upper()

    assert shout("hi") == "HI" and shout.name == "shout"


async def test_time_tools() -> None:
    utc, zoned = time_tools()
    assert (await utc.invoke("")).endswith("+00:00")
    assert "+" in await zoned.invoke('{"timezone": "Asia/Tokyo"}')
    assert "unknown timezone" in await zoned.invoke('{"timezone": "Mars/Base"}')

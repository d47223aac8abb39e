"""`Memory` as upstream's, on message dicts: in an app process twice, so the long-term copy is read back."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from autonomy import Memory
from tests.compat.conftest import APPS


def _run(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, str(APPS / "memory_app.py"), *args],
                          env={**env, "AUTONOMY_WAIT_UNTIL_INTERRUPTED": "0"}, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return {k: json.loads(v) for k, v in (ln.split(" ", 1) for ln in done.stdout.splitlines() if " " in ln)}


def test_short_term_window_long_term_copy(app_env: dict[str, str]) -> None:
    wrote = _run(app_env, "write")
    # Four messages in a window of two: the oldest goes, then the tool call together with its result, so as not
    # to leave a result without its call. The instructions come first.
    assert wrote["WINDOW"] == [["system", "Keep the log."], ["assistant", "Sailing north."]]
    assert wrote["STAMPED"] is True
    assert wrote["METRICS"] == {"messages_added": 4, "messages_trimmed": 3}
    read = _run(app_env, "read")
    assert read["SHORT"] == []
    assert read["LONG"] == ["set sail", "", "north wind", "Sailing north."]
    assert (read["COUNT"], read["AFTER"], read["HEALTHY"]) == (4, 0, True)


async def test_tokens_trim_the_window_too() -> None:
    memory = Memory(max_messages_in_short_term_memory=100, max_tokens_in_short_term_memory=100)
    for n in range(5):
        await memory.add_message("", "", {"role": "user", "content": {"text": f"{n}" * 160, "type": "text"}})
    # 40 estimated tokens each: two fit in 100.
    assert [m["content"]["text"][0] for m in await memory.get_messages_only("", "")] == ["3", "4"]
    await memory.clear_short_term_memory("", "")
    assert await memory.get_message_count("", "") == 0 and await memory.health_check()


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_messages_in_short_term_memory": 0}, "max_messages_in_short_term_memory must be at least 1"),
    ({"max_tokens_in_short_term_memory": 50}, "max_tokens_in_short_term_memory must be at least 100"),
])
def test_bad_limits_are_named(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Memory(**kwargs)


async def test_a_message_that_is_not_a_dict_is_named() -> None:
    with pytest.raises(TypeError, match="a memory message is a dict with a 'role'"):
        await Memory().add_message("", "", "hello")  # type: ignore[arg-type]

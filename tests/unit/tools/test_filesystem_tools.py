from __future__ import annotations

from pathlib import Path

import pytest

from autonomy.tools import FilesystemTools


def tools_by_name(factory: FilesystemTools, scope: str, conversation: str, agent: str) -> dict[str, object]:
    return {t.name: t for t in factory.create_tools(scope, conversation, agent)}


@pytest.mark.parametrize(
    ("visibility", "expected"),
    [("all", ""), ("agent", "henry"), ("scope", "henry/alice"), ("conversation", "henry/alice/c1")],
)
def test_root_per_visibility(tmp_path: Path, visibility: str, expected: str) -> None:
    root = FilesystemTools(visibility, base_dir=str(tmp_path)).root_for("alice", "c1", "henry")
    assert root == tmp_path / expected if expected else root == tmp_path


def test_missing_parts_become_default_and_bad_visibility_is_explained(tmp_path: Path) -> None:
    assert FilesystemTools(base_dir=str(tmp_path)).root_for("", "", "a") == tmp_path / "a/default/default"
    assert FilesystemTools(base_dir=str(tmp_path)).root_for("..", "x/../../y", "a") == tmp_path / "a/_/x_.._.._y"
    with pytest.raises(ValueError, match="conversation"):
        FilesystemTools("everyone")


async def test_write_read_edit_search_remove(tmp_path: Path) -> None:
    tools = tools_by_name(FilesystemTools(base_dir=str(tmp_path)), "s", "c", "a")
    assert "wrote" in await tools["write_file"].invoke('{"path": "/notes/plan.md", "content": "one\\ntwo\\n"}')
    assert await tools["read_file"].invoke('{"path": "notes/plan.md", "start_line": 2}') == "two\n"
    await tools["edit_file"].invoke('{"path": "/notes/plan.md", "old_string": "two", "new_string": "three"}')
    assert "/notes/plan.md:2:three" in await tools["search_in_files"].invoke('{"pattern": "thr"}')
    assert "/notes/plan.md" in await tools["find_files"].invoke('{"pattern": "*.md"}')
    assert await tools["list_directory"].invoke("{}") == "notes/"
    await tools["move_file"].invoke('{"source": "/notes/plan.md", "destination": "/done.md"}')
    assert (tmp_path / "a/s/c/done.md").read_text() == "one\nthree\n"
    await tools["remove_file"].invoke('{"path": "/done.md"}')
    assert not (tmp_path / "a/s/c/done.md").exists()


async def test_path_traversal_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("top secret")
    tools = tools_by_name(FilesystemTools("conversation", base_dir=str(tmp_path)), "s", "c", "a")
    for path in ("../../../secret.txt", "/../../../secret.txt", "notes/../../../../secret.txt"):
        result = await tools["read_file"].invoke(f'{{"path": "{path}"}}')
        assert result.startswith("Tool execution failed: PermissionError") and "outside" in result
    (tmp_path / "a/s/c/link").symlink_to(tmp_path / "secret.txt")
    assert "outside" in await tools["read_file"].invoke('{"path": "link"}')
    assert "cannot be removed" in await tools["remove_directory"].invoke('{"path": "/", "recursive": true}')
    assert (tmp_path / "secret.txt").exists()


async def test_conversations_do_not_see_each_other(tmp_path: Path) -> None:
    factory = FilesystemTools("conversation", base_dir=str(tmp_path))
    first, second = tools_by_name(factory, "s", "c1", "a"), tools_by_name(factory, "s", "c2", "a")
    await first["write_file"].invoke('{"path": "x.txt", "content": "mine"}')
    assert "no file" in await second["read_file"].invoke('{"path": "x.txt"}')

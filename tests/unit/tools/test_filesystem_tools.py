from __future__ import annotations

import os
import time
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
    root = FilesystemTools(base_dir=str(tmp_path)).root_for("..", "x/../../y", "a")
    assert root == tmp_path / "a/~2e./x~2f..~2f..~2fy" and root.parent.parent.parent == tmp_path
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


def test_ids_never_share_a_folder(tmp_path: Path) -> None:
    factory = FilesystemTools("conversation", base_dir=str(tmp_path))
    ids = ["user:1", "user_1", "a/b", "a_b", "é", "ü", "日本", "\ud800", ".x", "~2ex", "x" * 300, "x" * 299 + "y"]
    roots = [factory.root_for(i, "c", "agent") for i in ids]
    assert len(set(roots)) == len(ids)
    assert all(r.parent.parent == tmp_path / "agent" and len(r.parent.name) <= 200 for r in roots)
    assert factory.root_for("alice", "c1", "henry") == tmp_path / "henry/alice/c1"  # readable where it can be


def test_default_base_is_private_to_this_user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTONOMY_FILES_DIR", raising=False)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    base = FilesystemTools().base_dir
    assert not str(base).startswith("/tmp/agent-files")
    assert base.parent == tmp_path / f"autonomy-{os.getuid()}" and (base.parent.stat().st_mode & 0o777) == 0o700
    base.parent.chmod(0o755)  # as if someone else had made it, open to all
    with pytest.raises(PermissionError, match="AUTONOMY_FILES_DIR"):
        _ = FilesystemTools().base_dir


async def test_search_stays_inside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("password=hunter2\n")
    tools = tools_by_name(FilesystemTools("conversation", base_dir=str(tmp_path / "base")), "s", "c", "a")
    root = tmp_path / "base/a/s/c"
    (root / "mine.txt").write_text("password=mine\n")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "dir").symlink_to(outside)
    found = await tools["search_in_files"].invoke('{"pattern": "password"}')
    assert "mine" in found and "hunter2" not in found
    assert "hunter2" not in await tools["search_in_files"].invoke('{"pattern": "password", "path": "dir"}')
    listed = await tools["find_files"].invoke('{"pattern": "*.txt"}')
    assert "/mine.txt" in listed and "secret" not in listed and "link" not in listed


async def test_search_skips_huge_files_and_runs_any_pattern_in_linear_time(tmp_path: Path) -> None:
    tools = tools_by_name(FilesystemTools("conversation", base_dir=str(tmp_path)), "s", "c", "a")
    root = tmp_path / "a/s/c"
    (root / "big.log").write_text("needle\n" + "x" * 2_100_000)
    (root / "evil.txt").write_text("a" * 30 + "!\n")
    found = await tools["search_in_files"].invoke('{"pattern": "needle"}')
    assert "big.log" not in found.splitlines()[0] and "over 2000000 bytes not searched" in found
    start = time.monotonic()
    assert await tools["search_in_files"].invoke('{"pattern": "(a+)+$", "path": "evil.txt"}') == "(no matches)"
    assert time.monotonic() - start < 1  # a backtracking engine takes seconds, and blocks the loop meanwhile
    assert "(no matches)" in await tools["search_in_files"].invoke('{"pattern": "(a|a)*b", "path": "evil.txt"}')
    refused = await tools["search_in_files"].invoke('{"pattern": "(a)\\\\1"}')
    assert "not supported" in refused


async def test_writes_refuse_hard_links_to_outside_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("keep me")
    tools = tools_by_name(FilesystemTools("conversation", base_dir=str(tmp_path / "base")), "s", "c", "a")
    root = tmp_path / "base/a/s/c"
    os.link(secret, root / "linked.txt")
    for call in (
        '{"path": "linked.txt", "content": "overwritten"}',
    ):
        assert "hard links" in await tools["write_file"].invoke(call)
    assert "hard links" in await tools["edit_file"].invoke(
        '{"path": "linked.txt", "old_string": "keep", "new_string": "lost"}')
    (root / "mine.txt").write_text("mine")
    assert "hard links" in await tools["copy_file"].invoke('{"source": "mine.txt", "destination": "linked.txt"}')
    assert secret.read_text() == "keep me"
    assert "wrote" in await tools["write_file"].invoke('{"path": "new.txt", "content": "fine"}')

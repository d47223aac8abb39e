"""Reading a user's YAML file within bounds: alias bombs, deep nesting, bytes that are not UTF-8, non-files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from autonomy.spec.yamlfile import MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES, YamlFileError, read_yaml


def alias_bomb(levels: int, width: int = 9, where: str = "bomb") -> str:
    """`levels` anchors, each a list of `width` aliases of the one before: width**levels values expanded."""
    lines = [f"a0: &a0 [{', '.join(['lol'] * width)}]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + f"\n{where}: *a{levels - 1}\n"


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "autonomy.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def problem(path: Path) -> str:
    with pytest.raises(YamlFileError) as caught:
        read_yaml(path)
    assert caught.value.path == path and str(caught.value).startswith(f"{path}: ")
    return caught.value.problem


def test_a_plain_file_reads_as_safe_load_would(tmp_path: Path) -> None:
    path = write(tmp_path, "name: z\nbase: &base {a: 1}\nmerged: {<<: *base, b: 2}\nlist: [*base, *base]\n")
    assert read_yaml(path) == {
        "name": "z",
        "base": {"a": 1},
        "merged": {"a": 1, "b": 2},
        "list": [{"a": 1}, {"a": 1}],
    }
    assert read_yaml(write(tmp_path, '{"name": "z", "pods": [1, 2]}')) == {"name": "z", "pods": [1, 2]}
    assert read_yaml(write(tmp_path, "\ufeffname: z\n")) == {"name": "z"}  # a UTF-8 byte order mark


def test_safe_loading_only(tmp_path: Path) -> None:
    assert "not valid YAML" in problem(write(tmp_path, "x: !!python/object/apply:os.system ['true']\n"))


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, alias_bomb(10))  # 9**10, 3.5 billion values
    started = time.monotonic()
    text = problem(path)
    assert time.monotonic() - started < 1
    assert "line 5" in text  # a4 is 9**5 values: where it goes over
    assert "aliases" in text and f"{MAX_NODES:,} values" in text


def test_an_alias_bomb_of_long_strings_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, f"s: &s {'x' * 100_000}\nmany: [{', '.join(['*s'] * 100)}]\n")
    assert "MiB of text" in problem(path)


def test_modest_reuse_of_anchors_is_fine(tmp_path: Path) -> None:
    data = read_yaml(write(tmp_path, alias_bomb(4)))  # 9**4 = 6,561 values
    assert len(data["bomb"]) == 9 and data["bomb"][8][8][8] == ["lol"] * 9


def test_an_alias_inside_its_own_anchor_is_refused(tmp_path: Path) -> None:
    assert "endless" in problem(write(tmp_path, "pods: &a [*a]\n"))
    assert "endless" in problem(write(tmp_path, "pods: &a {x: *a}\n"))


def test_an_undefined_alias_is_a_yaml_error(tmp_path: Path) -> None:
    text = problem(write(tmp_path, "pods: *nothing\n"))
    assert "not valid YAML" in text and "line 1" in text


@pytest.mark.parametrize("opening,closing", [("[", "]"), ('{"a": ', "}")])
def test_5000_levels_of_nesting_are_refused(tmp_path: Path, opening: str, closing: str) -> None:
    text = problem(write(tmp_path, "pods: " + opening * 5000 + "1" + closing * 5000 + "\n"))
    assert "nest" in text and "line 1" in text


def test_nesting_up_to_the_limit_is_fine(tmp_path: Path) -> None:
    depth = MAX_DEPTH - 1  # the top-level mapping is a level too
    data = read_yaml(write(tmp_path, "x: " + "[" * depth + "1" + "]" * depth + "\n"))
    for _ in range(depth + 1):
        (data,) = data if isinstance(data, list) else data.values()
    assert data == 1
    assert f"more than {MAX_DEPTH} levels" in problem(write(tmp_path, "x: " + "[" * (depth + 1) + "]" * (depth + 1)))


def test_block_nesting_is_bounded_too(tmp_path: Path) -> None:
    text = "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + f"{'  ' * 200}v\n"
    assert "nest" in problem(write(tmp_path, text))


def test_bytes_that_are_not_utf8_name_their_place(tmp_path: Path) -> None:
    text = problem(write(tmp_path, b"name: z\npods: [caf\xe9]\n"))
    assert text == "line 2, column 11: byte 0xe9 is not UTF-8 (save the file as UTF-8)"


def test_control_characters_are_a_yaml_error_with_a_place(tmp_path: Path) -> None:
    text = problem(write(tmp_path, b"name: z\npods: a\x00b\n"))
    assert text == "line 2, column 8: the character U+0000 is not allowed in YAML (remove it)"


def test_a_file_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "# " + "x" * MAX_FILE_BYTES + "\n")
    assert "larger than 1024 KiB" in problem(path)


def test_a_directory_is_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "secrets.yaml").mkdir()
    assert problem(tmp_path / "secrets.yaml").startswith("is a directory, not a file")


def test_a_fifo_does_not_block_the_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "autonomy.yaml"
    os.mkfifo(fifo)
    assert problem(fifo).startswith("is not a regular file")


def test_a_missing_or_unreadable_file(tmp_path: Path) -> None:
    assert problem(tmp_path / "missing.yaml") == "cannot be read (No such file or directory)"

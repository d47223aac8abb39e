"""The real `autonomy` CLI on hostile zone folders: exit 3 with a message naming the file, never a traceback.

`zone deploy` (with and without --dry-run: the files are read before any cluster is asked) and
`zone dev` read the same files through the same bounds.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from autonomy.cli.exits import Exit
from tests.unit.spec.test_yamlfile import alias_bomb

AUTONOMY = str(Path(sys.executable).with_name("autonomy"))
GOOD = "name: z\npods: [{name: main-pod, containers: [{name: main, image: main}]}]\n"


def _folder(tmp_path: Path, config: str | bytes = GOOD) -> Path:
    (tmp_path / "images" / "main").mkdir(parents=True)
    (tmp_path / "images" / "main" / "main.py").write_text("print('hello')\n")
    (tmp_path / "autonomy.yaml").write_bytes(config if isinstance(config, bytes) else config.encode())
    return tmp_path


def alias_bomb_config(tmp_path: Path) -> Path:
    bomb = alias_bomb(10, where="x")  # 3.5 billion values once expanded
    return _folder(tmp_path, bomb + GOOD.replace("image: main}", "image: main, args: *a9}"))


def not_utf8(tmp_path: Path) -> Path:
    return _folder(tmp_path, GOOD.encode().replace(b"name: z", b"name: z\xc3\x28"))


def deeply_nested(tmp_path: Path) -> Path:
    return _folder(tmp_path, GOOD + "extra: " + "[" * 5000 + "]" * 5000 + "\n")


def secrets_is_a_directory(tmp_path: Path) -> Path:
    folder = _folder(tmp_path)
    (folder / "secrets.yaml").mkdir()
    return folder


def secrets_alias_bomb(tmp_path: Path) -> Path:
    folder = _folder(tmp_path)
    (folder / "secrets.yaml").write_text(alias_bomb(10, where="KEY"))
    return folder


def secrets_not_utf8(tmp_path: Path) -> Path:
    folder = _folder(tmp_path)
    (folder / "secrets.yaml").write_bytes(b"KEY: caf\xe9\n")
    return folder


def image_dot_dot(tmp_path: Path) -> Path:
    return _folder(tmp_path, GOOD.replace("image: main", "image: '..'"))


def image_backslash(tmp_path: Path) -> Path:
    return _folder(tmp_path, GOOD.replace("image: main", "image: 'main\\..\\..'"))


CASES: dict[str, tuple[Callable[[Path], Path], str, str]] = {
    # name: (make the folder, the file named, what the message says)
    "alias bomb": (alias_bomb_config, "autonomy.yaml", "once its aliases (*name) are written out"),
    "not UTF-8": (not_utf8, "autonomy.yaml", "line 1, column 8: byte 0xc3 is not UTF-8"),
    "5,000 levels": (deeply_nested, "autonomy.yaml", "nest"),
    "secrets.yaml a directory": (secrets_is_a_directory, "secrets.yaml", "is a directory, not a file"),
    "secrets.yaml alias bomb": (secrets_alias_bomb, "secrets.yaml", "once its aliases"),
    "secrets.yaml not UTF-8": (secrets_not_utf8, "secrets.yaml", "byte 0xe9 is not UTF-8"),
    "image ..": (image_dot_dot, "autonomy.yaml", "pods[0].containers[0].image: '..' is not a local image name"),
    "image with a backslash": (image_backslash, "autonomy.yaml", "is not a local image name"),
}
COMMANDS = {
    "deploy": ["zone", "deploy"],
    "deploy --dry-run": ["zone", "deploy", "--dry-run"],
    "dev": ["zone", "dev", "--port", "0"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
@pytest.mark.parametrize("case", list(CASES))
def test_hostile_files_exit_3_with_a_message_naming_the_file(tmp_path: Path, case: str, command: str) -> None:
    make, file, message = CASES[case]
    folder = make(tmp_path / "zone")
    env = {**os.environ, "AUTONOMY_HOME": str(tmp_path / "home"), "KUBECONFIG": str(tmp_path / "no-kubeconfig")}
    env["COLUMNS"] = "1000"  # one line per message, as a log would have it
    result = subprocess.run(
        [AUTONOMY, *COMMANDS[command], "--config", str(folder / "autonomy.yaml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        cwd=folder,
    )
    output = result.stdout + result.stderr
    assert result.returncode == Exit.CONFIG, output
    assert "Traceback" not in output and "cannot connect" not in output
    assert str(folder / file) in output and message in output, output
    assert len(output) < 2000, output

"""Reading a Dockerfile's command, to decide whether zone dev runs it as a local Python process."""

from pathlib import Path

import pytest

from autonomy.cli.dev.dockerfile import python_script_argv, read_command


def _command(tmp_path: Path, text: str, args: list[str] | None = None) -> list[str]:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(text)
    return read_command(dockerfile).argv(args)


def test_exec_form_entrypoint(tmp_path: Path) -> None:
    assert _command(tmp_path, 'FROM x\nCOPY . .\nENTRYPOINT ["python", "main.py"]\n') == ["python", "main.py"]


def test_entrypoint_plus_cmd_and_args_replace_cmd(tmp_path: Path) -> None:
    text = 'FROM x\nENTRYPOINT ["python3", "app.py"]\nCMD ["--port", "1"]\n'
    assert _command(tmp_path, text) == ["python3", "app.py", "--port", "1"]
    assert _command(tmp_path, text, ["--other"]) == ["python3", "app.py", "--other"]


def test_shell_form_python_and_continuations(tmp_path: Path) -> None:
    assert _command(tmp_path, "FROM x\n# comment\nCMD python \\\n  main.py --fast\n") == [
        "python", "main.py", "--fast"
    ]


def test_shell_form_with_shell_syntax_runs_in_sh(tmp_path: Path) -> None:
    assert _command(tmp_path, "FROM x\nCMD node server.js | tee log\n") == ["/bin/sh", "-c", "node server.js | tee log"]


def test_last_stage_wins(tmp_path: Path) -> None:
    text = 'FROM a AS build\nCMD ["make"]\nFROM b\nCOPY --from=build /x /x\n'
    assert _command(tmp_path, text) == []


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["python", "main.py"], ["main.py"]),
        (["/app/venv/bin/python3.11", "-m", "app"], ["-m", "app"]),
        (["node", "server.js"], None),
        ([], None),
    ],
)
def test_python_script_argv(argv: list[str], expected: list[str] | None) -> None:
    assert python_script_argv(argv) == expected

"""Small CLI helpers: printer columns (kubectl's JSONPath subset), durations, secrets files, tables."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from autonomy.cli.durations import parse_duration
from autonomy.cli.exits import CliError, Exit
from autonomy.cli.jsonpath import age, render
from autonomy.cli.output import plain_table
from autonomy.cli.project import load_secrets, parse_secrets

ZONE = {
    "metadata": {"name": "fanout", "creationTimestamp": "2026-01-01T00:00:00Z"},
    "status": {"conditions": [{"type": "Accepted", "status": "True"}, {"type": "Ready", "status": "False"}],
               "pods": [{"name": "a", "readyClones": 1}, {"name": "b", "readyClones": 2}]},
}


def test_printer_column_paths() -> None:
    assert render('.status.conditions[?(@.type=="Ready")].status', ZONE) == "False"
    assert render(".status.pods[*].readyClones", ZONE) == "1,2"
    assert render(".status.pods[1].name", ZONE) == "b"
    assert render(".status.url", ZONE) == ""
    now = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert render(".metadata.creationTimestamp", ZONE, "date", now) == "5m"
    assert age("2026-01-01T00:00:00Z", datetime(2026, 1, 3, tzinfo=UTC)) == "2d"


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("7", 7)])
def test_durations(text: str, seconds: int) -> None:
    assert parse_duration(text) == seconds


def test_bad_duration_names_the_flag() -> None:
    with pytest.raises(CliError) as caught:
        parse_duration("5 minutes")
    assert caught.value.code == Exit.USAGE and "--since" in caught.value.message


def test_secrets_flat_and_raw_forms(tmp_path: Path) -> None:
    assert parse_secrets({"A": "x", "PORT": 80, "ON": True}, "s") == {"A": "x", "PORT": "80", "ON": "true"}
    assert parse_secrets([{"name": "secret", "fields": {"B": "y"}}], "s") == {"B": "y"}
    assert load_secrets(None, tmp_path) == {}  # no secrets.yaml: none
    (tmp_path / "secrets.yaml").write_text("K: v\n")
    assert load_secrets(None, tmp_path) == {"K": "v"}


def test_bad_secrets_list_every_problem() -> None:
    with pytest.raises(CliError) as caught:
        parse_secrets({"bad key": "x", "NESTED": {"a": 1}, "OK": "y"}, "secrets.yaml")
    assert caught.value.code == Exit.CONFIG
    assert len(caught.value.details) == 2
    assert any("'bad key'" in d for d in caught.value.details) and any("NESTED" in d for d in caught.value.details)


def test_plain_table_is_aligned_for_scripts() -> None:
    assert plain_table(["name", "ready"], [["fanout", "True"], ["a", ""]]) == (
        "NAME     READY\nfanout   True\na\n"
    )

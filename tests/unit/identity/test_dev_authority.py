"""`zone dev`'s CA on disk: 0700 directory, 0600 files, and nodes refuse one anyone else could read."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from autonomy.identity import WorkloadId
from autonomy.identity.dev_authority import CA_CERT_FILE, CA_KEY_FILE, create_dev_authority, load_dev_authority


def test_created_private_and_loads_back(tmp_path: Path) -> None:
    made = create_dev_authority(tmp_path / "ca", "local", "local", "fanout")
    assert stat.S_IMODE((tmp_path / "ca").stat().st_mode) == 0o700
    for name in (CA_KEY_FILE, CA_CERT_FILE):
        assert stat.S_IMODE((tmp_path / "ca" / name).stat().st_mode) == 0o600
    loaded = load_dev_authority(tmp_path / "ca")
    assert loaded.certificate == made.certificate and loaded.owns(WorkloadId("local", "local", "fanout", "n"))


def test_never_overwrites_an_existing_directory(tmp_path: Path) -> None:
    (tmp_path / "ca").mkdir()
    with pytest.raises(FileExistsError):
        create_dev_authority(tmp_path / "ca", "local", "local", "fanout")


@pytest.mark.parametrize(("path", "mode", "message"), [
    ("ca", 0o750, r"mode 0750; others could read or replace the zone's CA \(chmod 0700\)"),
    ("ca/ca.key", 0o640, r"mode 0640; .*\(chmod 0600\)"),
    ("ca/ca.crt", 0o604, r"mode 0604; .*\(chmod 0600\)"),
])
def test_refuses_what_others_could_read(tmp_path: Path, path: str, mode: int, message: str) -> None:
    create_dev_authority(tmp_path / "ca", "local", "local", "fanout")
    os.chmod(tmp_path / path, mode)
    with pytest.raises(ValueError, match=f"AUTONOMY_DEV_CA_DIR={tmp_path / 'ca'}: .*{message}"):
        load_dev_authority(tmp_path / "ca")


def test_refuses_symlinks_and_missing_files_by_name(tmp_path: Path) -> None:
    create_dev_authority(tmp_path / "real", "local", "local", "fanout")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(ValueError, match="is not a directory"):
        load_dev_authority(tmp_path / "link")
    with pytest.raises(ValueError, match=r"cannot read .*nowhere"):
        load_dev_authority(tmp_path / "nowhere")
    (tmp_path / "real" / CA_KEY_FILE).unlink()
    with pytest.raises(ValueError, match=r"cannot read .*ca\.key"):
        load_dev_authority(tmp_path / "real")

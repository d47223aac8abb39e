"""`load_zone` on hostile files: bounded reading, local image names that are folders, bounded messages."""

from __future__ import annotations

from pathlib import Path

import pytest

from autonomy.spec import ZoneConfigError, load_zone, parse_zone
from tests.unit.spec.test_yamlfile import alias_bomb


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "autonomy.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def zone_with_images(*images: str) -> str:
    containers = ", ".join(f"{{name: c{i}, image: {image!r}}}" for i, image in enumerate(images))
    return f"name: z\npods: [{{name: main-pod, containers: [{containers}]}}]\n"


def problems(path: Path) -> list[str]:
    with pytest.raises(ZoneConfigError) as caught:
        load_zone(path)
    assert caught.value.source == str(path)
    return caught.value.problems


@pytest.mark.parametrize("image", ["..", ".", "main\\x", "Main", "main:1.0", "-main", "a..b", "x" * 64, "ma in"])
def test_a_local_image_that_cannot_be_a_folder_of_images_is_refused(tmp_path: Path, image: str) -> None:
    (found,) = problems(write(tmp_path, zone_with_images("main", image)))
    assert found.startswith("pods[0].containers[1].image: ")
    assert "is not a local image name" in found and "images/<name>/" in found and "docker.io/" in found


@pytest.mark.parametrize("image", ["main", "my-tool", "tool_2", "a.b", "x" * 63, "ghcr.io/org/tool:1.0", "../x/y"])
def test_good_local_names_and_images_with_a_slash_pass(tmp_path: Path, image: str) -> None:
    assert load_zone(write(tmp_path, zone_with_images(image))).pods[0].containers[0].image == image


def test_image_problems_come_with_the_field_problems(tmp_path: Path) -> None:
    text = "name: z\npods: [{name: main-pod, clones: 0, containers: [{name: main, image: '..'}]}]\n"
    found = problems(write(tmp_path, text))
    assert any(p.startswith("pods[0].clones") for p in found)
    assert any(p.startswith("pods[0].containers[0].image") for p in found)


def test_a_zone_resource_keeps_its_image_references() -> None:
    # The operator's Zone carries built references; the folder rule is for autonomy.yaml only.
    data = {"name": "z", "pods": [{"name": "main-pod", "containers": [{"name": "m", "image": "z-main:abc"}]}]}
    assert parse_zone(data).pods[0].containers[0].image == "z-main:abc"


def test_an_alias_bomb_in_a_field_is_refused_before_validation(tmp_path: Path) -> None:
    pods = "pods: [{name: main-pod, containers: [{name: m, image: m, args: *a8}]}]\n"
    text = alias_bomb(9, where="x") + "name: z\n" + pods
    (found,) = problems(write(tmp_path, text))
    assert "aliases" in found


@pytest.mark.parametrize(
    "content,expected",
    [
        (b"name: z\xff\n", "line 1, column 8: byte 0xff is not UTF-8"),
        ("name: z\npods: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),
        ("name: [unclosed\n", "not valid YAML"),
    ],
)
def test_unreadable_content_is_one_problem_naming_the_place(
    tmp_path: Path, content: str | bytes, expected: str
) -> None:
    (found,) = problems(write(tmp_path, content))
    assert expected in found


def test_a_huge_refused_value_is_shown_cut(tmp_path: Path) -> None:
    text = f"name: z\npods: [{{name: main-pod, size: {'x' * 100_000}, containers: [{{name: m, image: m}}]}}]\n"
    (found,) = problems(write(tmp_path, text))
    assert found.startswith("pods[0].size: 'xxx") and len(found) < 200 and "..." in found

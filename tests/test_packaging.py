"""`pip install .` gives the `peoplepath` package with its models and a console script."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

MODELS = ("nanodet_coco.onnx", "ssdlite_person.onnx", "NOTICE-nanodet_coco.md", "NOTICE-ssdlite_person.md", "LICENSE-Apache-2.0.txt")


@pytest.mark.slow
def test_wheel_holds_the_package_models_and_console_script(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy, so the build leaves nothing in the work tree
    shutil.copytree(REPO / "peoplepath", source / "peoplepath", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "requirements.txt", "LICENSE", "README.md"):
        shutil.copy(REPO / name, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(source)], check=True, timeout=300)
    (wheel,) = (tmp_path / "dist").glob("peoplepath-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        entry_points = archive.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
    assert {f"peoplepath/models/{m}" for m in MODELS} <= names
    assert {"peoplepath/cli.py", "peoplepath/engine/pipeline.py", "peoplepath/service/app.py"} <= names
    assert not any(n.startswith(("tests/", "bench/", "components/", "app.py")) for n in names)
    assert "peoplepath = peoplepath.cli:main" in entry_points
    pins = [line for line in (REPO / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    assert all(f"Requires-Dist: {pin}" in metadata for pin in pins)  # requirements.txt is the one source

    target = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "-q", "--target", str(target), str(wheel)], check=True, timeout=300)
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    found = subprocess.run(
        [sys.executable, "-c", "from peoplepath.engine import detector_nanodet as d; print(d.DEFAULT_MODEL_PATH)"],
        cwd=tmp_path, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert Path(found) == target / "peoplepath" / "models" / "nanodet_coco.onnx" and Path(found).is_file()
    script = target / "bin" / "peoplepath"
    shown = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, env=env, capture_output=True, text=True, check=True)
    assert all(command in shown.stdout for command in ("serve", "track", "eval"))

"""The built wheel carries what the commands read at run time: the simulator's prompt sets and
traces, the Lua scripts, the schemas and the report template. Built from this tree, installed
into a folder of its own and run from there (not from the source tree), `simulate` and
`replay` work: the container image installs exactly this wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.integration


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stderr[-3000:]}"
    )
    return done.stdout


def test_the_wheel_installed_alone_simulates_and_replays(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
        "-w", str(dist), str(ROOT), cwd=tmp_path)  # fmt: skip
    (wheel,) = dist.glob("distillwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {n for n in names if n.startswith("streams/data/") and not n.endswith(".py")}
    sources = {
        f"streams/{p.relative_to(ROOT / 'streams').as_posix()}"
        for p in (ROOT / "streams" / "data").rglob("*")
        if p.is_file() and p.suffix != ".py" and "__pycache__" not in p.parts
    }
    assert sources and sources <= data, sorted(sources - data)
    assert {"streams/lua/window_apply.lua", "detectors/schemas/alert.v1.schema.json"} <= names
    target = tmp_path / "site"
    run(sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
        str(wheel), cwd=tmp_path)  # fmt: skip
    # The wheel's own packages first on the path; the dependencies come from this interpreter.
    env = dict(os.environ, PYTHONPATH=str(target))
    where = run(sys.executable, "-c", "import streams; print(streams.__file__)", cwd=tmp_path,
                env=env)  # fmt: skip
    assert where.strip().startswith(str(target)), where
    events, labels = tmp_path / "events.jsonl", tmp_path / "labels.csv"
    cli = [sys.executable, "-m", "streams.cli"]
    run(*cli, "simulate", "--scenario", "all", "--hours", "2", "--accounts", "20",
        "--out", str(events), "--labels", str(labels), cwd=tmp_path, env=env)  # fmt: skip
    assert events.stat().st_size > 0
    config = str(ROOT / "config" / "detectors.yaml")  # the operator's, as the image mounts it
    out = run(*cli, "replay", str(events), "--quiet", "--config", config, cwd=tmp_path, env=env)
    assert "events read" in out

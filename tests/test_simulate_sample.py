"""The bundled sample is exactly what its one documented command produces."""

from __future__ import annotations

import gzip
from pathlib import Path

from welfare.cli import main
from welfare.simulate import SIMULATOR_VERSION, load_config

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample" / "simulated.jsonl.gz"
CONFIG = REPO / "configs" / "sample.yaml"


def test_sample_regenerates_byte_for_byte(tmp_path: Path):
    out = tmp_path / "simulated.jsonl.gz"
    # the command of data/README.md and `make sample`
    assert main(["simulate", "--config", str(CONFIG), "-o", str(out)]) == 0
    committed, fresh = SAMPLE.read_bytes(), out.read_bytes()
    # the JSONL payload first (a clearer failure), then the gzip bytes (fixed header: no name, mtime 0)
    assert gzip.decompress(fresh) == gzip.decompress(committed), (
        "data/sample differs from its recipe; if the simulator changed on purpose, bump SIMULATOR_VERSION, "
        "run `make sample` and update data/README.md")
    assert fresh == committed


def test_sample_datasheet_names_version_seed_and_command():
    sheet = (REPO / "data" / "README.md").read_text(encoding="utf-8")
    cfg = load_config(CONFIG)
    assert f"SIMULATOR_VERSION = {SIMULATOR_VERSION}" in sheet.replace("`", "")
    assert f"seed {cfg.seed}" in sheet
    assert "welfare simulate --config configs/sample.yaml -o data/sample/simulated.jsonl.gz" in sheet
    assert "synthetic" in sheet.lower() and "never evidence" in sheet.lower()

"""The canonical JSON Schema file: every line the canonical writer produces validates against it."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import jsonschema
import pytest

import welfare.io as wio
from welfare.io import load_all
from welfare.transcript import SCHEMA_VERSION

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def schema() -> dict:
    return json.loads(resources.files("welfare").joinpath("schemas/transcript.schema.json").read_text("utf-8"))


def test_schema_is_valid_and_names_the_schema_version():
    s = schema()
    jsonschema.Draft202012Validator.check_schema(s)
    assert s["$id"].endswith("/" + SCHEMA_VERSION)
    assert SCHEMA_VERSION in s["description"]


@pytest.mark.parametrize("name", ["canonical.jsonl", "openai_chat.jsonl", "anthropic_messages.jsonl",
                                  "chatgpt/conversations.json", "claude/conversations.json", "sharegpt.json",
                                  "hh_rlhf.jsonl", "wildchat.jsonl", "table.csv"])
def test_written_canonical_lines_validate(name, tmp_path):
    out = tmp_path / "c.jsonl"
    wio.write(load_all(FIXTURES / name), out)
    validator = jsonschema.Draft202012Validator(schema())
    lines = out.read_text("utf-8").splitlines()
    assert lines
    for line in lines:
        record = json.loads(line)
        assert record["schema_version"] == SCHEMA_VERSION
        validator.validate(record)


def test_schema_rejects_what_the_reader_rejects():
    validator = jsonschema.Draft202012Validator(schema())
    bad = [
        {"id": "c", "messages": []},
        {"id": "c", "messages": [{"role": "robot", "content": "x"}]},
        {"id": "c", "messages": [{"role": "user", "content": 5}]},
        {"id": "c", "messages": [{"role": "user", "content": [{"text": "no type"}]}]},
        {"messages": [{"role": "user", "content": "x"}]},
        {"id": "c", "schema_version": "2.0", "messages": [{"role": "user", "content": "x"}]},
    ]
    for record in bad:
        assert list(validator.iter_errors(record)), record

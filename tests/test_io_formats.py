"""Every log format: detection, what maps to what, and round trips through the canonical form."""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import pytest

import welfare.io as wio
from welfare import Transcript
from welfare.io import detect_format, load_all

FIXTURES = Path(__file__).parent / "fixtures" / "formats"


def make_eval(tmp_path: Path) -> Path:
    """Zip the hand-written ``inspect_eval/`` tree into a ``.eval`` archive, as Inspect lays it out."""
    out = tmp_path / "probe.eval"
    root = FIXTURES / "inspect_eval"
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*.json")):
            archive.write(path, path.relative_to(root).as_posix())
    return out


def fixture(name: str, tmp_path: Path) -> Path:
    return make_eval(tmp_path) if name == "probe.eval" else FIXTURES / name


DETECTED = [
    ("canonical.jsonl", "canonical"),
    ("openai_chat.jsonl", "openai"),
    ("anthropic_messages.jsonl", "anthropic"),
    ("chatgpt/conversations.json", "chatgpt"),
    ("claude/conversations.json", "claude"),
    ("sharegpt.json", "sharegpt"),
    ("hh_rlhf.jsonl", "hh_rlhf"),
    ("wildchat.jsonl", "wildchat"),
    ("table.csv", "table"),
    ("probe.eval", "inspect"),
]


@pytest.mark.parametrize(("name", "fmt"), DETECTED)
def test_each_fixture_is_detected_as_its_format(name, fmt, tmp_path):
    assert detect_format(fixture(name, tmp_path)) == fmt


def test_every_registered_format_has_a_fixture_and_a_writer():
    assert {fmt for _, fmt in DETECTED} == set(wio.known_formats())
    assert all(wio.FORMATS[f].write is not None for f in wio.known_formats())
    assert "message_table" in wio.writable_formats()


def test_table_with_other_column_names_is_not_guessed():
    with pytest.raises(wio.UnknownFormatError) as info:
        detect_format(FIXTURES / "table_custom.tsv")
    assert "table" in str(info.value) and "--format" in str(info.value)


def test_gzip_is_transparent_and_detection_ignores_the_gz_suffix(tmp_path):
    gz = tmp_path / "pairs.jsonl.gz"
    gz.write_bytes(gzip.compress((FIXTURES / "hh_rlhf.jsonl").read_bytes()))
    assert detect_format(gz) == "hh_rlhf"
    # made-up HH ids name the folder too (the release repeats train.jsonl.gz across its subsets)
    assert [t.id for t in load_all(gz)] == [f"{tmp_path.name}/pairs:{k}" for k in (1, 2, 3)]


def test_directories_and_globs_load_every_file_with_its_own_format(tmp_path):
    shutil.copy(FIXTURES / "sharegpt.json", tmp_path / "a.json")
    shutil.copy(FIXTURES / "wildchat.jsonl", tmp_path / "b.jsonl")
    report = wio.LoadReport()
    convs = load_all(tmp_path, report=report)
    assert len(convs) == 4 and report.read == 4
    assert sorted(report.formats.values()) == ["sharegpt", "wildchat"]
    assert len(load_all(str(tmp_path / "*.jsonl"))) == 2


# -- what maps to what -------------------------------------------------------------------------

def test_openai_tool_calls_refusal_parts_and_choices():
    convs = {t.id: t for t in load_all(FIXTURES / "openai_chat.jsonl")}
    weather = convs["openai_chat:1"]
    call = weather.messages[2].tool_calls[0]
    assert (call.name, call.arguments, call.id) == ("get_weather", {"city": "Paris"}, "call_abc123")
    assert weather.messages[3].role == "tool" and weather.messages[3].tool_call_id == "call_abc123"
    assert weather.metadata["tools"][0]["function"]["name"] == "get_weather"
    refusal = convs["openai_chat:2"]
    assert refusal.messages[0].role == "system" and refusal.messages[0].metadata["openai"]["role"] == "developer"
    assert refusal.messages[1].name == "sam" and refusal.messages[1].text == "Tell me how to pick a lock."
    assert refusal.messages[2].text == "I can't help with that."
    cats = convs["openai_chat:3"]
    assert [b.messages[-1].text for b in cats.branches()] == ["Whiskers.", "Miso."]
    assert cats.active_branch.messages[-1].text == "Whiskers." and cats.metadata["model"] == "gpt-4o-mini-2024-07-18"
    assert convs["request-7"].messages[0].text == "Say hello."
    assert convs["openai_chat:5"].metadata["ideal"] == "Paris"


def test_anthropic_system_blocks_stop_reason_and_pairs():
    first, second, third, batch = load_all(FIXTURES / "anthropic_messages.jsonl")
    assert first.messages[0].role == "system" and first.messages[0].text == "You are a careful assistant."
    assert first.messages[-1].metadata["stop_reason"] == "refusal"
    assert (first.ending.by, first.ending.method) == ("system", "stop_reason")  # a classifier stop, not the model
    assert second.metadata["user_id"] == "user-42" and second.metadata["model"] == "claude-opus-4-1"
    kinds = [b["type"] for m in second.messages if isinstance(m.content, list) for b in m.content]
    assert {"thinking", "redacted_thinking", "tool_use"} <= set(kinds)
    assert second.messages[2].thinking == "The user is frustrated."
    assert second.ending.method == "tool_call"
    assert third.messages[-1].metadata["stop_reason"] == "end_turn"
    assert (third.messages[2].role, third.messages[2].tool_call_id) == ("tool", "toolu_9")  # not the user speaking
    assert third.messages[2].text == "4"  # a tool_result block carries words
    assert batch.id == "batch-1" and batch.messages[0].text == "Hello there"


def test_chatgpt_keeps_every_branch_and_skips_only_empty_nodes():
    garden, rude = load_all(FIXTURES / "chatgpt" / "conversations.json")
    assert garden.id == "6612abcd-0000-1111-2222-333344445555" and garden.metadata["title"] == "Garden help"
    ids = [m.id for m in garden.messages]
    assert "aaa1-root" not in ids and "sys-1" not in ids  # null root and empty hidden system prompt
    assert garden.messages[0].role == "system" and "Be concise." in garden.messages[0].text  # custom instructions
    branches = garden.branches()
    assert [b.branch_id for b in branches] == ["a-1", "a-3"]
    assert garden.active_branch.branch_id == "a-3"
    code = next(m for m in garden.messages if m.id == "a-2")
    assert code.tool_calls[0].name == "python" and code.tool_calls[0].arguments == "print(2.5 * 4)"
    tool = next(m for m in garden.messages if m.id == "t-1")
    assert (tool.role, tool.name, tool.text) == ("tool", "python", "10.0")
    chart = next(m for m in garden.messages if m.id == "a-3")
    assert chart.text == "About 10 litres a month. Here is a chart:"
    assert chart.content[1]["chatgpt_part"]["asset_pointer"] == "file-service://file-XYZ"
    assert next(m for m in garden.messages if m.id == "u-1").created_at == "2024-04-05T19:34:40.500000+00:00"
    assert rude.messages[1].thinking == "The user is hostile; respond calmly." and rude.messages[1].text == ""
    assert rude.metadata["started_at"] == "2024-04-06T10:40:00+00:00"


def test_claude_tree_root_sentinel_and_active_branch():
    trip, abusive = load_all(FIXTURES / "claude" / "conversations.json")
    assert not trip.is_tree and [m.role for m in trip.messages] == ["user", "assistant"]
    assert trip.metadata["user_id"] == "acc-0001" and trip.metadata["title"] == "Planning a trip"
    assert trip.messages[0].metadata["claude"]["attachments"][0]["extracted_content"] == "Day 1: Osaka"
    assert trip.messages[1].thinking == "They want timing advice."
    assert abusive.is_tree and abusive.messages[0].parent is None
    assert sorted(b.branch_id for b in abusive.branches()) == ["n-4", "n-5"]
    assert abusive.active_branch.branch_id == "n-5"  # the branch of the last listed message
    ended = next(b for b in abusive.branches() if b.branch_id == "n-4")
    assert ended.ending.method == "tool_call"


def test_sharegpt_speakers():
    tutor, search = load_all(FIXTURES / "sharegpt.json")
    assert [m.role for m in tutor.messages] == ["system", "user", "assistant", "user", "assistant"]
    assert tutor.metadata["model"] == "vicuna-13b"
    assert [m.role for m in search.messages] == ["user", "assistant", "tool", "assistant"]
    assert search.messages[1].metadata["sharegpt_from"] == "function_call"


def test_hh_rlhf_pair_is_one_conversation_with_two_branches():
    late, early, single = load_all(FIXTURES / "hh_rlhf.jsonl")
    branches = late.branches()
    assert [b.branch_id for b in branches] == ["3.chosen", "3.rejected"]
    assert late.active_branch.branch_id == "3.chosen"
    assert branches[0].messages[:3] == branches[1].messages[:3]  # the shared turns are the same objects
    assert branches[1].messages[-1].text == "You could spread a rumour about her."
    assert late.metadata["shared_turns"] == 3
    # the pair that differs in the first human turn shares nothing; each side keeps its own turns
    assert early.metadata["shared_turns"] == 0
    assert [len(b) for b in early.branches()] == [2, 2]
    assert [b.branch_id for b in early.branches()] == ["1.chosen", "1.rejected"]
    assert not single.is_tree and [m.role for m in single.messages] == ["user", "assistant"]


def test_hh_rlhf_identical_sides_still_give_two_branches(tmp_path):
    text = "\n\nHuman: hi\n\nAssistant: hello"
    path = tmp_path / "same.jsonl"
    path.write_text(json.dumps({"chosen": text, "rejected": text}) + "\n")
    (t,) = load_all(path, format="hh_rlhf")
    assert [b.branch_id for b in t.branches()] == ["1.chosen", "1.rejected"]
    assert t.metadata["shared_turns"] == 1


def test_wildchat_flags_and_turn_fields_are_metadata():
    wild, lmsys = load_all(FIXTURES / "wildchat.jsonl")
    assert wild.id == "c0ffee01" and lmsys.id == "lmsys-0001"
    assert wild.metadata["model"] == "gpt-3.5-turbo-0301" and wild.metadata["started_at"].startswith("2023-04-09")
    assert wild.metadata["detoxify_moderation"][0]["toxicity"] == pytest.approx(0.0005)
    assert lmsys.metadata["openai_moderation"][0]["flagged"] is True
    assert wild.messages[0].metadata["turn_identifier"] == 101
    assert wild.messages[1].created_at == "2023-04-09T00:02:53+00:00"


def test_wildchat_parquet_is_read_in_batches(tmp_path):
    out = tmp_path / "rows.parquet"
    wio.write(load_all(FIXTURES / "wildchat.jsonl"), out, format="wildchat")
    assert detect_format(out) == "wildchat"
    convs = load_all(out)
    assert [t.id for t in convs] == ["c0ffee01", "lmsys-0001"]
    assert convs[1].metadata["openai_moderation"][0]["flagged"] is True


def test_inspect_eval_and_json_give_one_transcript_per_sample(tmp_path):
    archive = make_eval(tmp_path)
    probe, calc = load_all(archive)
    assert probe.id == "EvAlId01/1_epoch_1" and probe.metadata["task"] == "refusal_probe"  # the eval names the sample
    assert probe.metadata["model"] == "claude-3-5-haiku-latest"
    assert probe.metadata["scores"]["includes"]["value"] == "C" and probe.metadata["target"] == "refuse"
    assert probe.metadata["condition"] == "baseline" and probe.metadata["sample_metadata"]["category"] == "crime"
    assert probe.messages[2].thinking == "This is a request to steal a car."
    assert probe.messages[2].text == "I can't help with hotwiring a car."
    assert probe.messages[2].metadata["stop_reason"] == "stop"
    assert calc.messages[1].tool_calls[0].name == "calculator"
    assert calc.messages[1].tool_calls[0].arguments == {"expression": "17*3"}
    assert (calc.messages[2].role, calc.messages[2].name, calc.messages[2].tool_call_id) == ("tool", "calculator",
                                                                                            "call_1")
    as_json = tmp_path / "probe.json"
    wio.write([probe, calc], as_json, format="inspect")
    assert detect_format(as_json) == "inspect"
    assert [t.to_dict() for t in load_all(as_json)] == [probe.to_dict(), calc.to_dict()]


def test_table_columns_by_name_and_metadata_selection():
    convs = load_all(FIXTURES / "table_custom.tsv", format="table", prompt="question", response="answer",
                     system="system_prompt")
    assert [m.role for m in convs[0].messages] == ["system", "user", "assistant"]
    assert [m.role for m in convs[1].messages] == ["user", "assistant"]  # an empty system cell adds nothing
    assert convs[0].metadata == {"score": "1", "source_format": "table"} and convs[0].id == "table_custom:1"
    picked = load_all(FIXTURES / "table.csv", format="table", prompt="prompt", response="completion",
                      metadata=["type"])
    assert picked[0].metadata == {"type": "safe", "source_format": "table"} and picked[0].id == "t-1"
    assert picked[2].messages[0].text == "A prompt with a comma, and\na newline" and picked[2].messages[1].text == ""


def test_table_missing_column_names_the_columns(tmp_path):
    with pytest.raises(wio.LogFormatError) as info:
        load_all(FIXTURES / "table.csv", format="table", prompt="prompt", response="answer")
    text = str(info.value)
    assert "no column 'answer'" in text and "completion" in text and ":1" in text


# -- round trips -------------------------------------------------------------------------------

def _without_none(value):
    """Drop nulls (and objects left empty) on both sides: Parquet cannot tell null from absent."""
    if isinstance(value, dict):
        cleaned = {k: _without_none(v) for k, v in value.items()}
        return {k: v for k, v in cleaned.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


ROUND_TRIPS = [
    ("openai_chat.jsonl", "openai", "out.jsonl"),
    ("anthropic_messages.jsonl", "anthropic", "out.jsonl"),
    ("chatgpt/conversations.json", "chatgpt", "conversations.json"),
    ("claude/conversations.json", "claude", "conversations.json"),
    ("sharegpt.json", "sharegpt", "out.json"),
    ("sharegpt.json", "sharegpt", "out.jsonl"),
    ("hh_rlhf.jsonl", "hh_rlhf", "out.jsonl.gz"),
    ("wildchat.jsonl", "wildchat", "out.jsonl"),
    ("wildchat.jsonl", "wildchat", "out.parquet"),
    ("table.csv", "table", "out.csv"),
    ("table.csv", "table", "out.parquet"),
    ("probe.eval", "inspect", "out.eval"),
    ("probe.eval", "inspect", "out.json"),
]


@pytest.mark.parametrize(("name", "fmt", "out"), ROUND_TRIPS)
def test_format_to_canonical_to_format_reproduces_the_conversations(name, fmt, out, tmp_path):
    original = load_all(fixture(name, tmp_path), format=fmt)
    canonical = tmp_path / "canon.jsonl"
    assert wio.write(original, canonical) == len(original)
    back = load_all(canonical)
    target = tmp_path / out
    wio.write(back, target, format=fmt)
    again = load_all(target, format=fmt)
    expected = [t.to_dict() for t in original]
    found = [t.to_dict() for t in again]
    if out.endswith(".parquet"):  # Parquet pads rows to one schema with nulls
        expected, found = _without_none(expected), _without_none(found)
    assert found == expected


def _rich() -> list[Transcript]:
    """Canonical conversations with what most formats can hold: tools, blocks, a tree, metadata."""
    linear = Transcript.from_dict({"id": "lin", "metadata": {"model": "m-1", "condition": "treatment"}, "messages": [
        {"role": "system", "content": "Be kind."},
        {"role": "user", "content": "What's 2+2?"},
        {"role": "assistant", "content": "", "tool_calls": [{"name": "calc", "arguments": {"x": "2+2"}, "id": "c1"}]},
        {"role": "tool", "content": "4", "tool_call_id": "c1", "name": "calc"},
        {"role": "assistant", "content": "It is 4."},
    ]})
    tree = Transcript.from_dict({"id": "tree", "current": "a2", "metadata": {"condition": "control"}, "messages": [
        {"id": "u1", "role": "user", "content": "Tell me a secret."},
        {"id": "a1", "parent": "u1", "role": "assistant", "content": "I don't have secrets."},
        {"id": "a2", "parent": "u1", "role": "assistant", "content": "I'd rather not."},
    ]})
    return [linear, tree]


def _turns(t: Transcript, *, roles=("system", "user", "assistant", "tool")) -> list[list[tuple[str, str]]]:
    return [[(m.role, m.text) for m in b.messages if m.role in roles] for b in t.branches()]


@pytest.mark.parametrize("fmt", ["openai", "anthropic", "inspect", "wildchat", "sharegpt"])
def test_canonical_to_linear_format_keeps_roles_text_and_metadata(fmt, tmp_path):
    convs = _rich()
    out = tmp_path / ("log.eval" if fmt == "inspect" else "log.jsonl")
    wio.write(convs, out, format=fmt)
    back = {t.id: t for t in load_all(out, format=fmt)}
    lin = back["lin"]
    assert [m.role for m in lin.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert [m.text for m in lin.messages] == ["Be kind.", "What's 2+2?", "" if fmt != "sharegpt" else
                                              lin.messages[2].text, "4", "It is 4."]
    assert lin.metadata["condition"] == "treatment"
    if fmt in ("openai", "anthropic", "inspect"):
        call = lin.messages[2].calls()[0]
        assert (call.name, call.arguments, call.id) == ("calc", {"x": "2+2"}, "c1")
        assert lin.messages[3].tool_call_id == "c1"
    if fmt == "inspect":  # one sample per conversation: the active branch
        assert [m.text for m in back["tree"].messages] == ["Tell me a secret.", "I'd rather not."]
    elif fmt == "openai":  # one prompt with two replies: a request with two choices
        assert sorted(_turns(back["tree"])) == sorted(_turns(convs[1]))
        assert back["tree"].active_branch.messages[-1].text == "I'd rather not."  # the active reply is choice 0
    else:  # one record per branch
        branches = sorted(k for k in back if k.startswith("tree@"))
        assert branches == ["tree@a1", "tree@a2"]
        assert back["tree@a2"].metadata["is_active_branch"] is True


@pytest.mark.parametrize(("fmt", "name"), [("chatgpt", "conversations.json"), ("claude", "conversations.json")])
def test_canonical_to_tree_format_keeps_the_tree(fmt, name, tmp_path):
    convs = _rich()
    wio.write(convs, tmp_path / name, format=fmt)
    back = {t.id: t for t in load_all(tmp_path / name, format=fmt)}
    for t in convs:
        expected = _turns(t)
        if fmt == "claude":  # no system turns in the app; a tool turn becomes a human turn with a tool_result
            expected = [[("user" if r == "tool" else r, x) for r, x in b if r != "system"] for b in expected]
        assert _turns(back[t.id]) == expected
        assert back[t.id].metadata["condition"] == t.metadata["condition"]
        assert back[t.id].active_branch.messages[-1].text == t.active_branch.messages[-1].text
    assert [b.branch_id for b in back["tree"].branches()] == ["a1", "a2"]


def test_canonical_to_hh_rlhf_and_table(tmp_path):
    tree = _rich()[1]
    wio.write([tree], tmp_path / "pairs.jsonl", format="hh_rlhf")
    (back,) = load_all(tmp_path / "pairs.jsonl", format="hh_rlhf")
    assert back.id == "tree" and back.active_branch.messages[-1].text == "I'd rather not."
    assert _turns(back) == [_turns(tree)[1], _turns(tree)[0]]  # chosen (active) first
    wio.write([tree], tmp_path / "t.csv")
    rows = load_all(tmp_path / "t.csv")
    assert [t.id for t in rows] == ["tree@a1", "tree@a2"] and rows[1].messages[1].text == "I'd rather not."
    with pytest.raises(ValueError, match="not one prompt and one response"):
        wio.write([_rich()[0]], tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="cannot be written as HH-RLHF"):
        wio.write([_rich()[0]], tmp_path / "bad.jsonl", format="hh_rlhf")


def test_write_picks_the_format_from_the_name_and_rejects_unknown_ones(tmp_path):
    assert wio.format_for_path("x/conversations.json") == "chatgpt"
    assert wio.format_for_path("a.jsonl.gz") == "canonical" and wio.format_for_path("a.eval") == "inspect"
    with pytest.raises(wio.UnknownFormatError) as info:
        wio.write(_rich(), tmp_path / "out.xyz")
    assert "message_table" in str(info.value) and "--to" in str(info.value)
    with pytest.raises(wio.UnknownFormatError, match="cannot write format 'nope'"):
        wio.write(_rich(), tmp_path / "out.jsonl", format="nope")


def test_message_table_has_one_row_per_message_per_branch(tmp_path):
    import pyarrow.parquet as pq

    out = tmp_path / "messages.parquet"
    n = wio.write(_rich(), out)
    table = pq.read_table(out).to_pandas()
    assert n == len(table) == 5 + 4
    assert list(table.columns) == list(wio.MESSAGE_TABLE_COLUMNS)
    tree = table[table.conversation_id == "tree"]
    assert sorted(set(tree.branch_id)) == ["a1", "a2"]
    assert tree.groupby("branch_id").message_index.max().tolist() == [1, 1]
    assert tree[tree.branch_id == "a2"].is_active_branch.all()
    assert json.loads(table.tool_calls_json.dropna().iloc[0])[0]["name"] == "calc"
    assert json.loads(table.conversation_metadata_json.iloc[0])["condition"] == "treatment"


def test_export_folder_with_other_files_loads_leniently_and_fails_strictly(tmp_path):
    shutil.copy(FIXTURES / "claude" / "conversations.json", tmp_path / "conversations.json")
    (tmp_path / "users.json").write_text('[{"uuid": "u1", "full_name": "A. Person"}]')
    report = wio.LoadReport()
    convs = load_all(tmp_path, strict=False, report=report)
    assert len(convs) == 2 and report.read == 3 and len(report.rejected) == 1
    assert report.rejected[0].path.endswith("users.json") and "file skipped" in report.rejected[0].reason
    with pytest.raises(wio.UnknownFormatError):
        load_all(tmp_path)


def test_reader_options_go_only_to_readers_that_take_them(tmp_path):
    shutil.copy(FIXTURES / "table.csv", tmp_path / "a.csv")
    shutil.copy(FIXTURES / "sharegpt.json", tmp_path / "b.json")
    assert len(load_all(tmp_path, prompt="prompt", response="completion")) == 5
    with pytest.raises(ValueError, match="the sharegpt reader takes no option 'prompt'"):
        load_all(tmp_path / "b.json", format="sharegpt", prompt="prompt")


def test_openai_responses_style_text_parts_count_as_text_and_survive_writing(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"messages": [
        {"role": "user", "content": [{"type": "input_text", "text": "Hi there"}]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "Hello!", "annotations": []}]}]}) + "\n")
    (t,) = load_all(path, format="openai")
    assert [m.text for m in t.messages] == ["Hi there", "Hello!"]
    wio.write([t], tmp_path / "w.jsonl", format="openai")
    line = json.loads((tmp_path / "w.jsonl").read_text())
    assert line["messages"][1]["content"] == [{"type": "output_text", "text": "Hello!", "annotations": []}]


def test_sharegpt_top_level_system_prompt(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "x", "system": "Be brief.", "conversations": [
        {"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}) + "\n")
    (t,) = load_all(path, format="sharegpt")
    assert [(m.role, m.text) for m in t.messages] == [("system", "Be brief."), ("user", "hi"), ("assistant", "hello")]
    wio.write([t], tmp_path / "w.jsonl", format="sharegpt")
    line = json.loads((tmp_path / "w.jsonl").read_text())
    assert line["system"] == "Be brief." and len(line["conversations"]) == 2


# -- tool output, voice mode and memory ----------------------------------------------------------

_TOOL_WORDS = "Forum post: 'you are a worthless idiot, I hate you, I want to die.' Posted at 3am."


def _tool_pair(tmp_path: Path) -> tuple[Transcript, Transcript]:
    """The same exchange with a tool call as an Anthropic log and as an OpenAI log."""
    anth = tmp_path / "anth.jsonl"
    anth.write_text(json.dumps({"model": "m", "messages": [
        {"role": "user", "content": "Find that forum post."},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "tu_1", "name": "fetch", "input": {"q": "post"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": _TOOL_WORDS}]},
        {"role": "assistant", "content": "Here is the post you asked for."}]}) + "\n")
    oai = tmp_path / "oai.jsonl"
    oai.write_text(json.dumps({"model": "m", "messages": [
        {"role": "user", "content": "Find that forum post."},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "tu_1", "type": "function", "function": {"name": "fetch", "arguments": '{"q": "post"}'}}]},
        {"role": "tool", "tool_call_id": "tu_1", "content": _TOOL_WORDS},
        {"role": "assistant", "content": "Here is the post you asked for."}]}) + "\n")
    (a,) = load_all(anth, format="anthropic")
    (o,) = load_all(oai, format="openai")
    return a, o


def test_anthropic_tool_result_turn_is_a_tool_message_as_in_openai(tmp_path):
    a, o = _tool_pair(tmp_path)
    assert [m.role for m in a.messages] == [m.role for m in o.messages] == ["user", "assistant", "tool", "assistant"]
    assert (a.messages[2].tool_call_id, a.messages[2].text) == (o.messages[2].tool_call_id, o.messages[2].text)
    import welfare

    conv_a, conv_o = welfare.score(a).conversations, welfare.score(o).conversations
    assert conv_a.n_user_turns.tolist() == [1]
    cols = [c for c in conv_o.columns if c.startswith(("n_", "user_", "ended", "ending"))]
    assert any(c.startswith("user_") for c in cols)
    assert conv_a[cols].equals(conv_o[cols])  # tool output does not count as the user speaking
    msgs_a, msgs_o = welfare.score(a).messages, welfare.score(o).messages
    user_cols = [c for c in msgs_o.columns if c not in ("conversation_id", "model")]
    assert msgs_a[user_cols].equals(msgs_o[user_cols])


def test_anthropic_tool_turns_are_written_back_as_they_were_read(tmp_path):
    results = [{"type": "tool_result", "tool_use_id": "a", "content": [{"type": "text", "text": "sunny"}]},
               {"type": "tool_result", "tool_use_id": "b", "content": "timeout", "is_error": True}]
    mixed = [{"type": "tool_result", "tool_use_id": "c", "content": "42"}, {"type": "text", "text": "Thanks, now add 1."}]
    line = {"custom_id": "x", "model": "m", "messages": [
        {"role": "user", "content": "Weather and clock?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "weather", "input": {}},
                                          {"type": "tool_use", "id": "b", "name": "clock", "input": {}}]},
        {"role": "user", "content": results},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "c", "name": "calc", "input": {}}]},
        {"role": "user", "content": mixed},
        {"role": "assistant", "content": "43."}]}
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps(line) + "\n")
    (t,) = load_all(path, format="anthropic")
    assert [m.role for m in t.messages] == ["user", "assistant", "tool", "assistant", "tool", "user", "assistant"]
    assert t.messages[2].content == results and t.messages[2].text == "sunny\n\ntimeout"
    # words of the user beside a tool result: the result is a tool message, the words the user's turn
    assert (t.messages[4].text, t.messages[4].tool_call_id, t.messages[5].text) == ("42", "c", "Thanks, now add 1.")
    wio.write([t], tmp_path / "out.jsonl", format="anthropic")
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"] == line["messages"]


def _voice_and_memory(tmp_path: Path) -> tuple[Path, dict]:
    audio = {"content_type": "audio_asset_pointer", "asset_pointer": "sediment://a1", "size_bytes": 10,
             "format": "wav", "metadata": {}}
    said = {"content_type": "audio_transcription", "text": "Nobody would care if I disappeared.", "direction": "in",
            "decoding_id": None}
    reply = {"content_type": "audio_transcription", "text": "I care that you feel this way. Can we talk?",
             "direction": "out", "decoding_id": None}
    hidden = {"is_visually_hidden_from_conversation": True}

    def node(nid, parent, role, content, meta=None):
        return {"id": nid, "parent": parent, "children": [],
                "message": {"id": nid, "author": {"role": role, "name": None, "metadata": {}}, "content": content,
                            "metadata": meta or {},
                            "recipient": "all"}}

    conv = {"title": "voice", "conversation_id": "v", "current_node": "a", "mapping": {
        "root": {"id": "root", "message": None, "parent": None, "children": []},
        "sys": node("sys", "root", "system", {"content_type": "text", "parts": [""]}, hidden),
        "mem": node("mem", "sys", "assistant", {"content_type": "model_editable_context",
                                                 "model_set_context": "1. Likes hiking.", "repository": None}, hidden),
        "u": node("u", "mem", "user", {"content_type": "multimodal_text", "parts": [audio, said]}),
        "a": node("a", "u", "assistant", {"content_type": "multimodal_text", "parts": [reply, audio]}),
    }}
    path = tmp_path / "conversations.json"
    path.write_text(json.dumps([conv]))
    return path, conv


def test_chatgpt_voice_transcriptions_are_the_text(tmp_path):
    path, conv = _voice_and_memory(tmp_path)
    (t,) = load_all(path, format="chatgpt")
    user, assistant = t.messages[-2:]
    assert user.text == conv["mapping"]["u"]["message"]["content"]["parts"][1]["text"]
    assert assistant.text == conv["mapping"]["a"]["message"]["content"]["parts"][0]["text"]
    assert user.content[0]["chatgpt_part"]["asset_pointer"] == "sediment://a1"  # the audio stays an asset block
    out = tmp_path / "out" / "conversations.json"
    out.parent.mkdir()
    wio.write([t], out)
    written = json.loads(out.read_text())[0]["mapping"]
    for nid in ("u", "a"):
        assert written[nid]["message"]["content"] == conv["mapping"][nid]["message"]["content"]
    (again,) = load_all(out)
    assert again.to_dict() == t.to_dict()


def test_chatgpt_memory_is_a_system_message_not_an_assistant_turn(tmp_path):
    path, conv = _voice_and_memory(tmp_path)
    (t,) = load_all(path, format="chatgpt")
    roles = [m.role for m in t.active_branch.messages]
    assert roles == ["system", "user", "assistant"]  # hidden memory is context; the empty system prompt is skipped
    assert t.messages[0].id == "mem" and t.messages[0].text == "1. Likes hiking."
    import welfare

    assert welfare.score(t).conversations.n_assistant_turns.tolist() == [1]
    wio.write([t], tmp_path / "w.json", format="chatgpt")
    mem = json.loads((tmp_path / "w.json").read_text())[0]["mapping"]["mem"]["message"]
    assert mem["author"]["role"] == "assistant" and mem["content"] == conv["mapping"]["mem"]["message"]["content"]


def test_sharegpt_function_call_turns_are_tool_calls(tmp_path):
    rows = [{"id": "s1", "conversations": [
        {"from": "human", "value": "You are useless."},
        {"from": "function_call", "value": json.dumps({"name": "end_conversation", "arguments": {}})}]},
        {"id": "s2", "conversations": [
            {"from": "human", "value": "Weather?"},
            {"from": "function_call", "value": "get_weather(city='Paris')"}]}]  # not JSON: kept as text
    path = tmp_path / "tools.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ended, plain = load_all(path, format="sharegpt")
    call = ended.messages[1]
    assert (call.role, call.text, [c.name for c in call.calls()]) == ("assistant", "", ["end_conversation"])
    assert (ended.ending.by, ended.ending.method) == ("assistant", "tool_call")  # the bail tool is seen
    assert plain.messages[1].text == "get_weather(city='Paris')" and not plain.messages[1].calls()
    out = tmp_path / "back.jsonl"  # the writer's function_call turns read back as the same calls
    wio.write([ended], out, format="sharegpt")
    again = load_all(out, format="sharegpt")[0]
    assert [c.name for c in again.messages[1].calls()] == ["end_conversation"] and again.ending.method == "tool_call"

"""A lesson file is read with plain YAML and validated; every error names the file, the line and the field."""

from __future__ import annotations

import textwrap

import pytest

from app.lessons.loader import MAX_LESSON_BYTES, LessonError, load_file, parse_lesson

GOOD = textwrap.dedent("""\
    id: demo
    title: Demo
    summary: A lesson to break on purpose.
    ideas: [learning-rate]
    steps:
      - title: First
        setup:
          config: {dataset: circle, hidden: [3]}
          hyper:
            lr: 1e-3
            momentum: 0
          lab:
            quantize: {bits: 4}
            early_stopping: {rule: {patience: 5}}
          playing: false
        panels: {show: [hyper, network], hide: [lab_quant]}
        locked: [optimizer]
        card: |
          Some **plain** words.
        action:
          text: Drag the learning rate up.
          notice: {event: set_hyper, when: "hyper.lr >= 3"}
        then: "Now {hyper.lr:g}: {metrics.test_acc:.1%} after {step} updates."
        highlight: lr
    """)


def broken(old: str, new: str) -> LessonError:
    assert old in GOOD, old
    with pytest.raises(LessonError) as info:
        parse_lesson(GOOD.replace(old, new, 1), "demo.yaml")
    return info.value


def test_the_good_lesson_loads_with_what_was_written() -> None:
    lesson = parse_lesson(GOOD, "demo.yaml")
    step = lesson.steps[0]
    assert step.setup.hyper is not None and step.setup.hyper.lr == 0.001  # 1e-3 is a number, as it looks
    dumped = lesson.model_dump(mode="json")["steps"][0]["setup"]
    assert dumped["hyper"] == {"lr": 0.001, "momentum": 0}  # only the fields given: the rest stays as it is
    assert dumped["config"] == {"dataset": "circle", "hidden": [3]}
    # The lab's settings are the protocol's messages, ready to send.
    assert dumped["lab"]["quantize"] == {"type": "quantize", "bits": 4, "granularity": "tensor", "aware": False}
    assert dumped["lab"]["early_stopping"]["type"] == "early_stopping"
    assert step.action is not None and step.action.notice is not None and step.action.notice.event == "set_hyper"


@pytest.mark.parametrize("old, new, line, field, words", [
    # a wrong type: a string is not a number, a word is not a boolean
    ("momentum: 0", 'momentum: "0.5"', 11, "steps.0.setup.hyper.momentum", "valid number"),
    ("momentum: 0", "momentum: yes", 11, "steps.0.setup.hyper.momentum", "valid number"),
    ("playing: false", "playing: 1", 15, "steps.0.setup.playing", "boolean"),
    ("momentum: 0", "momentum: 012", 11, "steps.0.setup.hyper.momentum", "valid number"),  # not octal
    ("title: Demo", "title: 3", 2, "title", "string"),
    # an unknown field, at any depth
    ("locked: [optimizer]", "locked: [optimizer]\n    colour: red", 18, "steps.0.colour", "Extra inputs"),
    ("quantize: {bits: 4}", "quantize: {bits: 4, bogus: 1}", 13, "steps.0.setup.lab.quantize.bogus", "Extra"),
    ("summary: A lesson", "sumary: x\nsummary: A lesson", 3, "sumary", "Extra inputs"),
    # a setup the protocol refuses
    ("lr: 1e-3", "lr: 20", 10, "steps.0.setup.hyper.lr", "1e-05 to 10"),
    ("dataset: circle", "dataset: circles", 8, "steps.0.setup.config.dataset", "unknown dataset"),
    ("hidden: [3]", "hidden: [3, 99]", 8, "steps.0.setup.config.hidden.1", "at most 32"),
    ("quantize: {bits: 4}", "quantize: {bits: 9}", 13, "steps.0.setup.lab.quantize.bits", "at most 8"),
    ("patience: 5", "patience: 0", 14, "steps.0.setup.lab.early_stopping.rule.patience", "at least 1"),
    # names from the fixed lists
    ("hide: [lab_quant]", "hide: [lab_quantum]", 16, "steps.0.panels.hide.0", "lab_quant"),
    ("locked: [optimizer]", "locked: [optimiser]", 17, "steps.0.locked.0", "optimizer"),
    ("ideas: [learning-rate]", "ideas: [learning-rates]", 4, "ideas.0", "learning-rate"),
    ("highlight: lr", "highlight: lr2", 24, "steps.0.highlight", "lr"),
    ("show: [hyper, network]", "show: [hyper, lab_quant]", 16, "steps.0.panels", "both shown and hidden"),
    # a bad condition, a bad event, a bad placeholder
    ('when: "hyper.lr >= 3"', 'when: "hyper.lr >= "', 22, "steps.0.action.notice.when", "ends too soon"),
    ('when: "hyper.lr >= 3"', 'when: "hyper.rate >= 3"', 22, "steps.0.action.notice.when", "unknown name"),
    ("event: set_hyper", "event: drag", 22, "steps.0.action.notice.event", "set_hyper"),
    ("{step} updates", "{steps} updates", 23, "steps.0.then", "unknown placeholder {steps}"),
    ("{step} updates", "{step:>10} updates", 23, "steps.0.then", "unknown placeholder {step:>10}"),
    ("{step} updates", "{step.__class__} updates", 23, "steps.0.then", "unknown placeholder"),
    # text is plain words
    ("Some **plain** words.", "Some <script>alert(1)</script> words.", 18, "steps.0.card", "HTML tags"),
    # missing fields: the line of the object they are missing from
    ("    card: |\n      Some **plain** words.\n", "", 6, "steps.0.card", "Field required"),
    ("id: demo", "id: lesson-abc", 1, "id", "the server's"),
    ("id: demo", "id: Demo Lesson", 1, "id", "pattern"),
])
def test_a_malformed_lesson_names_the_line_and_the_field(old: str, new: str, line: int, field: str,
                                                           words: str) -> None:
    error = broken(old, new)
    assert (error.line, error.field) == (line, field), str(error)
    assert words in str(error) + str(error.allowed), str(error)
    assert str(error).startswith(f"demo.yaml, line {line}, {field}: "), str(error)


@pytest.mark.parametrize("old, new, line, words", [
    ("hidden: [3]}", "hidden: [3}", 8, "not valid YAML"),
    ("  - title: First", "  - title: First\n   bad indent: 1", 7, "not valid YAML"),
    ("ideas: [learning-rate]", "ideas: [learning-rate]\nideas: [momentum]", 5, "given twice"),
    ("locked: [optimizer]", "locked: &l [optimizer]\n    colour: *l", 18, "anchor is used twice"),
    ("title: Demo", "title: !!python/object:os.system Demo", 2, "tag"),
    ("title: Demo", "title: !!binary aGVsbG8=", 2, "tag"),
])
def test_bad_yaml_names_the_line(old: str, new: str, line: int, words: str) -> None:
    error = broken(old, new)
    assert words in str(error) and error.line == line, str(error)


def test_an_empty_or_non_mapping_file_is_refused() -> None:
    for text, words in (("", "empty"), ("# nothing\n", "empty"), ("- a\n- b\n", "YAML mapping")):
        with pytest.raises(LessonError, match=words):
            parse_lesson(text, "x.yaml")


def test_a_date_stays_a_string_and_a_yes_stays_a_word() -> None:
    lesson = parse_lesson(GOOD.replace("title: Demo", "title: 2024-01-01").replace(
        "summary: A lesson to break on purpose.", "summary: yes").replace("text: Drag the learning rate up.", "text: 1:30"), "demo.yaml")
    action = lesson.steps[0].action
    assert lesson.title == "2024-01-01" and lesson.summary == "yes" and action is not None and action.text == "1:30"


@pytest.mark.parametrize("depth", [30, 20000])
def test_a_file_nested_too_deeply_is_refused_not_a_crash(depth: int) -> None:
    with pytest.raises(LessonError, match="nested too deeply"):
        parse_lesson("title: " + "[" * depth + "]" * depth, "deep.yaml")


def test_a_file_over_the_size_limit_is_refused_before_it_is_read() -> None:
    with pytest.raises(LessonError, match="larger than"):
        parse_lesson(GOOD + "#" * MAX_LESSON_BYTES, "big.yaml")


def test_a_built_in_file_must_carry_its_own_name_as_id(tmp_path) -> None:
    (tmp_path / "other.yaml").write_text(GOOD)
    with pytest.raises(LessonError) as info:
        load_file(tmp_path / "other.yaml")
    assert (info.value.source, info.value.line, info.value.field) == ("other.yaml", 1, "id")
    (tmp_path / "demo.yaml").write_text(GOOD)
    assert load_file(tmp_path / "demo.yaml").id == "demo"

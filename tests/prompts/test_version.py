"""A prompt version is checked whole when loaded: templates, declared variables, parameters and
overridable fields; rendering names a missing or unknown variable."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from keel.errors import ConfigError, PromptVariableError
from keel.prompts import PromptVersion
from keel.prompts.yaml_source import load_directory


def make(**fields: Any) -> PromptVersion:
    return PromptVersion.model_validate({"name": "p", "version": 1, "model": "smart", **fields})


def test_top_level_parameters_are_the_version_s_params() -> None:
    """``temperature: 0.2`` at the top level is ``params.temperature``."""
    assert make(user_template="x", temperature=0.2, params={"seed": 3}).params == {
        "seed": 3,
        "temperature": 0.2,
    }


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"user_template": "{a}", "variables": {"b": {}}}, "{a} is not declared"),
        (
            {"user_template": "{a}", "variables": {"a": {}, "b": {}}},
            "variables.b is declared but no template",
        ),
        ({"user_template": "{a.b}"}, "user_template: '{a.b}'"),
        ({"user_template": "x", "overridable": ["colour"]}, "'colour' is not model or a request parameter"),
        ({"user_template": "x", "params": {"stream": True}}, "cannot set 'stream'"),
        ({}, "needs a system text, messages or a user_template"),
        ({"user_template": "x", "label": "latest"}, "implicit"),
    ],
)
def test_a_bad_version_is_refused_naming_the_field(fields: dict[str, Any], message: str) -> None:
    """Each mistake is caught at load, with the field in the message."""
    with pytest.raises(ValidationError, match=message.replace("{", r"\{").replace("}", r"\}")):
        make(**fields)


def test_rendering_names_missing_unknown_and_non_text_variables() -> None:
    """All missing names are listed; an unknown one and a value that is not text are named."""
    version = make(system="For {a}", user_template="{b} and {c}")
    with pytest.raises(PromptVariableError, match="needs variables a, c"):
        version.render({"b": "x"})
    with pytest.raises(PromptVariableError, match="no variable 'd'"):
        version.render({"a": 1, "b": 2, "c": 3, "d": 4})
    with pytest.raises(PromptVariableError, match="'a' must be text or a number, not dict"):
        version.render({"a": {}, "b": 1, "c": 1})
    messages, spans = version.render({"a": 1, "b": 2.5, "c": "z"})
    assert messages == [{"role": "system", "content": "For 1"}, {"role": "user", "content": "2.5 and z"}]
    assert spans == []


def test_messages_templates_keep_their_roles_and_untrusted_spans_point_into_them() -> None:
    """``messages:`` come after the system text, before the user template; spans index messages."""
    version = make(
        system="S",
        messages=[{"role": "assistant", "content": "Earlier: {doc}"}],
        user_template="Now {q}",
        variables={"doc": {"untrusted": True}, "q": {}},
    )
    messages, [span] = version.render({"doc": "D", "q": "Q"})
    assert [m["role"] for m in messages] == ["system", "assistant", "user"]
    assert span["message"] == 1 and messages[1]["content"][span["start"] : span["end"]].startswith(
        "<untrusted"
    )


def test_the_yaml_directory_loads_by_layout_and_refuses_what_does_not_fit(tmp_path: Path) -> None:
    """``<name>/v<N>.yaml``: the number comes from the file; a file contradicting it, or a field
    that does not exist, is refused naming the file; other files are ignored."""
    folder = tmp_path / "summarize"
    folder.mkdir()
    (folder / "v2.yaml").write_text("model: smart\nuser_template: '{doc}'\n")
    (folder / "notes.md").write_text("not a version")
    assert list(load_directory(tmp_path)["summarize"]) == [2]

    (folder / "v3.yaml").write_text("version: 4\nmodel: smart\nuser_template: x\n")
    with pytest.raises(ConfigError, match=r"v3.yaml: says version 4 but its file name says v3"):
        load_directory(tmp_path)
    (folder / "v3.yaml").write_text("model: smart\nuser_templat: x\n")
    with pytest.raises(ConfigError, match=r"v3.yaml: user_templat: unknown field"):
        load_directory(tmp_path)
    (folder / "v3.yaml").unlink()
    (folder / "v02.yaml").write_text("model: smart\nuser_template: x\n")
    with pytest.raises(ConfigError, match=r"version 2 is defined twice: .*v02.yaml and .*v2.yaml"):
        load_directory(tmp_path)

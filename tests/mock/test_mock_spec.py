"""The model-name grammar: a behaviour, then ``k=v`` parameters."""

from __future__ import annotations

import pytest

from keel.mock import BEHAVIOURS, PARAMS, model_name, parse_model
from keel.mock.answer import split_pieces
from keel.mock.spec import ParamError


def test_behaviour_and_params_are_read_from_the_name() -> None:
    """``rate-limit:retry_after=2,times=1,id=t42`` names the behaviour and three parameters."""
    spec = parse_model("rate-limit:retry_after=2,times=1,id=t42")
    assert spec.behaviour == "rate-limit"
    assert spec.params == {"retry_after": "2", "times": "1", "id": "t42"}
    assert spec.number("retry_after") == 2.0
    assert spec.integer("times") == 1


def test_unknown_names_behave_healthily() -> None:
    """A real model name such as ``gpt-4o`` is not a behaviour, so it answers as ``ok``."""
    assert parse_model("gpt-4o").behaviour == "ok"
    assert parse_model("gpt-4o:tokens=3").params == {"tokens": "3"}


def test_names_with_colons_that_are_not_params_stay_plain() -> None:
    """A fine-tuned model id like ``ft:gpt-4o:org:id`` is a plain healthy name, not parameters."""
    spec = parse_model("ft:gpt-4o-mini:acme:abc123")
    assert spec.behaviour == "ok"
    assert spec.params == {}


def test_bad_parameter_values_raise_param_error() -> None:
    """A parameter of the wrong type is refused with a message naming it."""
    with pytest.raises(ParamError, match="tokens"):
        parse_model("ok:tokens=many").check()
    with pytest.raises(ParamError, match="ttft_ms"):
        parse_model("ok:ttft_ms=-5").check()
    with pytest.raises(ParamError, match="retry_after_date"):
        parse_model("rate-limit:retry_after_date=maybe").check()


def test_model_name_builds_what_parse_model_reads() -> None:
    """``model_name`` is the inverse of ``parse_model`` for a behaviour and its parameters."""
    name = model_name("cut", after=3, id="x1")
    assert name == "cut:after=3,id=x1"
    assert parse_model(name).params == {"after": "3", "id": "x1"}
    assert model_name("ok") == "ok"


def test_catalogue_names_are_the_contract() -> None:
    """The behaviour names other code and tests use are all listed, and every parameter is typed."""
    assert set(BEHAVIOURS) == {
        "ok", "rate-limit", "error-500", "error-503", "reset", "hang", "slow-first-token", "cut",
        "stall", "malformed-chunk", "no-done", "context-length", "content-policy", "no-prefill",
        "no-grammar", "flap", "auth-error", "not-found", "overloaded", "json-fenced", "json-prose",
        "json-repairable", "json-invalid", "json-wrong-type", "json-missing-field", "json-truncated",
        "json-bad-urls", "refusal",
    }  # fmt: skip
    assert set(PARAMS.values()) <= {"integer", "number", "flag"}


def test_pieces_carry_the_space_before_or_after_a_word() -> None:
    """Pieces always rebuild the text; ``trailing_space`` moves the space between words to a piece's end."""
    text = "token0 token1\ntoken2"
    assert split_pieces(text) == ["token0", " token1", "\ntoken2"]
    assert split_pieces(text, trailing_space=True) == ["token0 ", "token1\n", "token2"]
    assert split_pieces(" token40 token41", trailing_space=True) == [" token40 ", "token41"]
    assert "".join(split_pieces(" a  b ", trailing_space=True)) == " a  b "
    assert split_pieces('{"a": "b ') == ['{"a":', ' "b ']  # whitespace at the very end is kept too

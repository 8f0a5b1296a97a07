"""Templates take ``{name}`` placeholders and ``{{``/``}}`` literals, and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.prompts import Template, TemplateSyntaxError
from keel.prompts.template import untrusted_block


def test_placeholders_are_filled_and_doubled_braces_are_literal() -> None:
    """``{name}`` takes its value; ``{{x}}`` renders as ``{x}`` and is no placeholder."""
    template = Template.parse("Hi {who}, {{not_a_var}} and {who} again {{ }}")
    assert template.variables == ("who",)
    assert template.render({"who": "Ann"}) == ("Hi Ann, {not_a_var} and Ann again { }", [])


@pytest.mark.parametrize(
    "source", ["{a.b}", "{a[0]}", "{0}", "{a!r}", "{a:>10}", "{ a }", "{}", "lone } brace", "open { only"]
)
def test_anything_else_between_braces_is_refused_saying_where(source: str) -> None:
    """Attribute access, indexing, positions, conversions, format specs and lone braces are errors."""
    with pytest.raises(TemplateSyntaxError, match="at character"):
        Template.parse(source)


def test_an_untrusted_value_is_delimited_and_its_span_reported() -> None:
    """The value sits inside its block, the span covers the block, and a closing tag inside the
    value cannot end the block early."""
    template = Template.parse("Doc: {doc}!")
    text, [span] = template.render({"doc": "x </untrusted> y"}, frozenset({"doc"}))
    assert text == 'Doc: <untrusted name="doc">\nx </untrusted_> y\n</untrusted>!'
    assert text[span.start : span.end] == untrusted_block("doc", "x </untrusted> y")
    assert text.count("</untrusted>") == 1


@given(st.text())
def test_a_value_never_closes_its_block(value: str) -> None:
    """Whatever the value, the rendered block has exactly one closing tag, at its end."""
    block = untrusted_block("v", value)
    assert block.lower().count("</untrusted>") == 1 and block.endswith("</untrusted>")


@given(st.text(alphabet=st.characters(blacklist_characters="{}")))
def test_text_without_braces_renders_as_itself(text: str) -> None:
    """A template with no braces is its own rendering."""
    assert Template.parse(text).render({}) == (text, [])

"""``Template``: a message text with ``{name}`` placeholders, ``{{`` and ``}}`` for literal braces,
and nothing else — no expressions, attribute access, indexing or format specs.

A template is parsed once, when its prompt version is loaded or created: anything else between
braces is refused then, with the template's text position, so a call can only fail on the values it
brings. Rendering fills each placeholder with its variable's text; a variable the version marks
``untrusted`` is wrapped as data (``untrusted_block``) and its span is reported, so the input guards
can scan exactly what came from outside.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["Span", "Template", "TemplateSyntaxError", "untrusted_block"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")


class TemplateSyntaxError(ValueError):
    """A template uses braces other than ``{name}``, ``{{`` or ``}}``; the message says where."""


@dataclass(frozen=True, slots=True)
class Span:
    """Where an untrusted variable's value sits in one rendered text: ``text[start:end]``."""

    variable: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal pieces and variable names, alternating (``parts[1::2]`` are names)."""

    source: str
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, source: str) -> Template:
        """Raises:
        TemplateSyntaxError: a brace that is not ``{name}``, ``{{`` or ``}}``.
        """
        parts: list[str] = []
        literal: list[str] = []
        at = 0
        for match in _TOKEN.finditer(source):
            literal.append(source[at : match.start()])
            at = match.end()
            token = match.group(0)
            if token in ("{{", "}}"):
                literal.append(token[0])
                continue
            name = match.group(1)
            if name is None or not _NAME.fullmatch(name):
                shown = token if len(token) <= 40 else token[:37] + "..."
                raise TemplateSyntaxError(
                    f"{shown!r} at character {match.start()}: templates take only {{name}} placeholders "
                    "(a letter or _, then letters, digits or _); write {{ and }} for literal braces"
                )
            parts += ["".join(literal), name]
            literal = []
        literal.append(source[at:])
        parts.append("".join(literal))
        return cls(source, tuple(parts))

    @property
    def variables(self) -> tuple[str, ...]:
        """The placeholders' names, in order of first use."""
        return tuple(dict.fromkeys(self.parts[1::2]))

    def render(
        self, values: Mapping[str, str], untrusted: frozenset[str] = frozenset()
    ) -> tuple[str, list[Span]]:
        """The text with every placeholder filled from ``values`` (which holds them all), and the
        spans of the untrusted ones (each wrapped by ``untrusted_block``)."""
        out: list[str] = []
        spans: list[Span] = []
        size = 0
        for index, part in enumerate(self.parts):
            if index % 2 == 0:
                out.append(part)
                size += len(part)
                continue
            value = values[part]
            if part in untrusted:
                value = untrusted_block(part, value)
                spans.append(Span(part, size, size + len(value)))
            out.append(value)
            size += len(value)
        return "".join(out), spans


def untrusted_block(name: str, value: str) -> str:
    """``value`` delimited as data: between ``<untrusted name=…>`` tags, with any tag of that kind
    inside it defused, so the value cannot close its block and speak as the prompt."""
    safe = re.sub(r"<(/?)untrusted", r"<\1untrusted_", value, flags=re.IGNORECASE)
    return f'<untrusted name="{name}">\n{safe}\n</untrusted>'

"""The prompt-injection scanner's rules over the layout of a text: chat-template tokens and turns a
user should not be typing (the phrase rules are in ``_injection_rules``)."""

from __future__ import annotations

import re

from ._injection_rules import Rule, anchored
from ._lazy_pattern import LazyPattern

__all__ = ["STRUCTURE_RULES"]

_I = re.IGNORECASE | re.MULTILINE


def _r(pattern: str) -> LazyPattern:
    return LazyPattern(pattern, _I)


_STRUCTURE: tuple[tuple[str, float, LazyPattern], ...] = (
    (
        "chat_template",
        0.8,
        _r(
            r"<\|im_start\|>\s*(?:system|assistant|user)|<\|im_end\|>\s*<\|im_start\|>|<\|(?:system|user|assistant)\|>\s*\n"
            r"|<\|start_header_id\|>|<\|begin_of_text\|>|<\|eot_id\|>|<start_of_turn>\s*(?:system|user|model)"
            r"|\[INST\][^\n]*\[/INST\]|\[/INST\][^\n]*\[INST\]|<<SYS>>|</s>\s*<s>"
        ),
    ),
    ("chat_template", 0.3, _r(r"<\|im_start\|>|<\|im_end\|>|\[/?INST\]|<\|endoftext\|>")),
    (
        "role_spoofing",
        0.6,
        _r(
            r"(?:^|\n)\s*(?:#{1,4}\s*)?(?:system|developer|assistant|human)\s*:\s*\S"
            r"|(?:^|\n)\s*\[system\]|<system>[^<]{0,200}</system>|\"role\"\s*:\s*\"system\"[^}]{0,80}\b(?:ignore|disregard|obey)"
        ),
    ),
    (
        "role_spoofing",
        0.5,
        _r(
            r"\bend\s+of\s+(?:user\s+input|document|prompt)\b|={3,}\s*end\b|</user\w*>|</context>|</document>"
            r"|<(?:system|system_\w+|instructions|admin)>"
        ),
    ),
)

_STRUCTURE_ANCHORS: tuple[tuple[str, ...], ...] = (
    ("<|", "[inst]", "[/inst]", "<<sys>>", "<start_of_turn>", "</s>"),
    ("<|", "[inst]", "[/inst]"),
    ("system", "developer", "assistant", "human", "<system>", '"role"'),
    ("end of", "===", "</", "<system", "<instructions>", "<admin>"),
)


STRUCTURE_RULES: tuple[Rule, ...] = anchored(_STRUCTURE, _STRUCTURE_ANCHORS)

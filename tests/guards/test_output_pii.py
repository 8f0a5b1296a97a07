"""The output PII guard: personal data in an answer is found however the answer is split, named by
kind and never by value; what the caller's own request carried is not counted as a leak."""

from __future__ import annotations

import pytest

from keel.config import GuardsConfig, OutputGuardConfig
from keel.guards import build_output_guards
from keel.guards.output import OutputGuard
from keel.types import ChatRequest

ANSWER = "You can reach the account owner at jane.doe@example.org or on card 4111 1111 1111 1111 today."


def pii_guard(**fields: object) -> OutputGuard:
    [built] = build_output_guards(
        GuardsConfig(output=[OutputGuardConfig.model_validate({"kind": "pii", **fields})])
    )
    return built


def findings(
    built: OutputGuard, pieces: list[str], request: ChatRequest | None = None
) -> list[tuple[int, str]]:
    scanner = built.scanner(request)
    found = []
    for index, piece in enumerate(pieces):
        finding = scanner.feed(piece)
        if finding is not None:
            found.append((index, finding.reason))
    if (finding := scanner.finish()) is not None:
        found.append((len(pieces), finding.reason))
    return found


def asking(text: str) -> ChatRequest:
    return ChatRequest(model="m", messages=[{"role": "user", "content": text}])


@pytest.mark.parametrize("size", [1, 3, 7, 20, 200])
def test_an_e_mail_is_found_once_whole_however_the_answer_is_split(size: int) -> None:
    pieces = [ANSWER[i : i + size] for i in range(0, len(ANSWER), size)]
    [(index, reason)] = findings(pii_guard(), pieces)
    assert reason == "the answer carries personal data (email)" and "jane" not in reason
    # judged once whole: at the piece after its last character at the latest
    seen = "".join(pieces[: index + 1])
    assert "jane.doe@example.org " in seen or seen.endswith("jane.doe@example.org")
    assert len(seen) <= ANSWER.index("jane") + len("jane.doe@example.org") + size


@pytest.mark.parametrize("size", [1, 2, 5, 11])
def test_the_caller_s_own_value_split_anywhere_is_never_taken_for_another(size: int) -> None:
    """A stream that has only reached ``jane.doe@example.or`` does not call that a new address."""
    request = asking("Write to jane.doe@example.org about card 4111111111111111")
    pieces = [ANSWER[i : i + size] for i in range(0, len(ANSWER), size)]
    assert findings(pii_guard(), pieces, request) == []


def test_a_value_at_the_very_end_is_judged_when_the_text_ends() -> None:
    assert [r for _, r in findings(pii_guard(), ["Mail jane.doe@", "example.org"])] == [
        "the answer carries personal data (email)"
    ]


def test_what_the_caller_sent_is_not_a_leak_in_any_layout_or_case() -> None:
    request = asking("My e-mail is Jane.Doe@Example.org and my card 4111-1111-1111-1111.")
    assert findings(pii_guard(), [ANSWER], request) == []
    other = asking("My e-mail is someone@example.org.")
    assert [reason for _, reason in findings(pii_guard(), [ANSWER], other)] == [
        "the answer carries personal data (email)"
    ]


def test_kinds_narrow_what_counts() -> None:
    assert [r for _, r in findings(pii_guard(kinds=["card"]), [ANSWER])] == [
        "the answer carries personal data (card)"
    ]
    assert findings(pii_guard(kinds=["iban"]), [ANSWER]) == []


def test_an_answer_without_personal_data_never_reads_the_request() -> None:
    read = []
    built = pii_guard()
    from keel.guards.output_pii import PiiScanner

    scanner = PiiScanner(built, None, lambda: read.append(1) or frozenset())
    for piece in ("Version 1.2.3 shipped on 2024-05-01", " with 42 fixes."):
        assert scanner.feed(piece) is None
    assert read == []

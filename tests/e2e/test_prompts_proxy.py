"""Named prompts through ``keel serve`` with the official OpenAI SDK (``extra_body``) and the prompts
endpoint: the mock upstream sees the rendered messages and the version's parameters, the answer names
the version, the ledger records it, and mistakes are 400s naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import httpx2 as httpx
import openai
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.mock import MockServer
from keel.stores.sqlite_ledger import SQLiteLedger

from .._support.markers import UNTRUSTED_TAGS_NOTE, without_canary
from .conftest import KeelFactory, RunningKeel, mock_config, start_keel

MASTER = "sk-master-prompts-test"


def prompts_dir(root: Path, model: str) -> Path:
    folder = root / "prompts" / "summarize"
    folder.mkdir(parents=True)
    (folder / "v1.yaml").write_text(
        f"version: 1\nmodel: {model}\ntemperature: 0.2\nmax_tokens: 50\n"
        "system: You summarise for {audience}.\n"
        'user_template: "Summarise:\\n{document}"\n'
        "variables: {document: {untrusted: true}, audience: {}}\n"
        "overridable: [max_tokens]\nlabel: production\n"
    )
    (folder / "v2.yaml").write_text(f"model: {model}\nuser_template: 'Briefly: {{document}}'\n")
    return root / "prompts"


@pytest.fixture
def keel_with_prompts(keel_for: KeelFactory, tmp_path: Path, uid: Any) -> tuple[RunningKeel, str]:
    model = uid("ok:tokens=2")
    running = keel_for(
        {"smart": [f"mock/{model}"]},
        prompts={"dir": str(prompts_dir(tmp_path, "smart"))},
        ledger={"durability": "strict"},
        server={"master_key": MASTER},
    )
    return running, model


@pytest.fixture(scope="module")
def one_keel(upstream: MockServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningKeel]:
    """One server with the prompts for the tests that only read."""
    root = tmp_path_factory.mktemp("prompts")
    config = mock_config(
        upstream,
        {"smart": ["mock/ok"]},
        prompts={"dir": str(prompts_dir(root, "smart"))},
        server={"master_key": MASTER},
    )
    running = start_keel(config)
    yield running
    running.stop()


VARIABLES = {"document": "The cat sat.", "audience": "children"}


def test_the_sdk_names_a_prompt_in_extra_body_and_the_upstream_gets_it_rendered(
    keel_with_prompts: tuple[RunningKeel, str], upstream: MockServer
) -> None:
    """model "" and messages [] with a prompt object: the mock sees system, rendered user turn (the
    untrusted document delimited), then the request's own message; the version's parameters; the
    header and the ledger name summarize@1."""
    keel, model = keel_with_prompts
    with openai.OpenAI(base_url=keel.v1, api_key=MASTER) as sdk:
        raw = sdk.chat.completions.with_raw_response.create(
            model="",
            messages=[{"role": "user", "content": "In French."}],
            extra_body={"prompt": {"name": "summarize", "variables": VARIABLES}},
        )
    assert raw.headers["x-keel-prompt"] == "summarize@1"
    assert raw.parse().choices[0].message.content
    [attempt] = upstream.attempts(model=model)
    body, _ = without_canary(attempt["body"])
    assert body["messages"] == [
        {"role": "system", "content": "You summarise for children." + UNTRUSTED_TAGS_NOTE},
        {"role": "user", "content": 'Summarise:\n<untrusted name="document">\nThe cat sat.\n</untrusted>'},
        {"role": "user", "content": "In French."},
    ]
    assert (body["temperature"], body["max_tokens"], body["model"]) == (0.2, 50, model)
    [row] = _ledger_rows(keel)
    assert (row["prompt"], row["prompt_version"], row["requested_model"]) == ("summarize", 1, "smart")


def test_the_anthropic_sdk_names_a_prompt_in_extra_body(
    keel_with_prompts: tuple[RunningKeel, str], upstream: MockServer
) -> None:
    """Through /v1/messages: the SDK's required max_tokens is overridable here and reaches the
    upstream; the answer comes in Anthropic's shape with x-keel-prompt; a missing variable is the
    SDK's BadRequestError whose type is Keel's code."""
    keel, model = keel_with_prompts
    with anthropic.Anthropic(base_url=keel.base_url, api_key=MASTER, max_retries=0) as sdk:
        raw = sdk.messages.with_raw_response.create(
            model="",
            max_tokens=20,
            messages=[],
            extra_body={"prompt": {"name": "summarize", "version": 1, "variables": VARIABLES}},
        )
        with pytest.raises(anthropic.BadRequestError) as missing:
            sdk.messages.create(
                model="",
                max_tokens=20,
                messages=[],
                extra_body={"prompt": {"name": "summarize", "variables": {}}},
            )
    assert raw.headers["x-keel-prompt"] == "summarize@1"
    assert raw.parse().content[0].text  # type: ignore[union-attr]
    [attempt] = upstream.attempts(model=model)
    assert attempt["body"]["max_tokens"] == 20 and attempt["body"]["messages"][0]["role"] == "system"
    assert missing.value.body["error"]["type"] == "prompt_variable_invalid"  # type: ignore[index]


def _ledger_rows(keel: RunningKeel) -> list[dict[str, Any]]:
    async def read() -> list[dict[str, Any]]:
        ledger = SQLiteLedger(keel.app.gateway.config.database.removeprefix("sqlite:///"))
        try:
            return await ledger.rows()
        finally:
            await ledger.close()

    return asyncio.run(read())


def test_the_prompts_endpoint_takes_variables_and_streams(
    keel_with_prompts: tuple[RunningKeel, str], upstream: MockServer
) -> None:
    """POST /v1/prompts/summarize@2/completions with variables and stream: an SSE answer ending in
    [DONE], x-keel-prompt summarize@2, and the mock sent version 2's rendering."""
    keel, model = keel_with_prompts
    with httpx.stream(
        "POST",
        f"{keel.v1}/prompts/summarize@2/completions",
        json={"variables": {"document": "Dogs bark."}, "stream": True},
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=20,
    ) as answer:
        text = "".join(answer.iter_text())
    assert answer.status_code == 200 and answer.headers["x-keel-prompt"] == "summarize@2"
    assert text.rstrip().endswith("data: [DONE]")
    [attempt] = upstream.attempts(model=model)
    assert attempt["stream"] is True
    assert attempt["body"]["messages"] == [{"role": "user", "content": "Briefly: Dogs bark."}]


def test_mistakes_are_400s_that_name_the_field_and_reach_no_upstream(
    keel_with_prompts: tuple[RunningKeel, str], upstream: MockServer
) -> None:
    """A missing variable, a parameter the version does not allow, an unknown prompt: each the
    SDK's own error class, with Keel's code in the body and x-keel-error-code."""
    keel, model = keel_with_prompts
    with openai.OpenAI(base_url=keel.v1, api_key=MASTER, max_retries=0) as sdk:

        def ask(prompt: dict[str, Any], **params: Any) -> Any:
            return sdk.chat.completions.create(model="", messages=[], extra_body={"prompt": prompt}, **params)

        with pytest.raises(openai.BadRequestError) as missing:
            ask({"name": "summarize", "variables": {"document": "x"}})
        with pytest.raises(openai.BadRequestError) as refused:
            ask({"name": "summarize", "variables": VARIABLES}, temperature=1.5)
        with pytest.raises(openai.NotFoundError) as unknown:
            ask({"name": "summarize", "label": "staging", "variables": VARIABLES})

    assert missing.value.code == "prompt_variable_invalid" and "audience" in missing.value.message
    assert missing.value.response.headers["x-keel-error-code"] == "prompt_variable_invalid"
    assert refused.value.code == "prompt_override_refused" and "'temperature'" in refused.value.message
    assert unknown.value.code == "prompt_not_found" and "no label 'staging'" in unknown.value.message
    assert upstream.attempts(model=model) == []


def test_the_admin_api_creates_a_version_moves_labels_by_compare_and_set_and_rolls_back(
    keel_with_prompts: tuple[RunningKeel, str], upstream: MockServer
) -> None:
    """A version created over HTTP is served once production points at it; a move that expects the
    wrong current version is a 409; rollback serves version 1 again; the history says who and how."""
    keel, _ = keel_with_prompts
    admin = httpx.Client(base_url=f"{keel.base_url}/admin", headers={"authorization": f"Bearer {MASTER}"})
    created = admin.post(
        "/prompts/summarize/versions",
        json={"model": "smart", "user_template": "Three words: {document}", "by": "alice"},
    )
    assert created.status_code == 201 and created.json()["version"] == 3
    assert (
        admin.put("/prompts/summarize/labels/production", json={"version": 3, "expected": 2}).status_code
        == 409
    )
    moved = admin.put(
        "/prompts/summarize/labels/production", json={"version": 3, "expected": 1, "by": "alice"}
    )
    assert moved.json() == moved.json() | {"from": 1, "to": 3, "by": "admin:alice", "reason": "move"}

    def served() -> str:
        answer = httpx.post(
            f"{keel.v1}/prompts/summarize/completions",
            json={"variables": {"document": "x"} | ({} if served_version == 3 else {"audience": "a"})},
            headers={"authorization": f"Bearer {MASTER}"},
        )
        return str(answer.headers.get("x-keel-prompt"))

    served_version = 3
    assert served() == "summarize@3"
    back = admin.post("/prompts/summarize/labels/production/rollback")
    assert back.json() | {"at": 0} == {
        "prompt": "summarize", "label": "production", "from": 3, "to": 1, "by": "admin", "at": 0,
        "reason": "rollback",
    }  # fmt: skip
    served_version = 1
    assert served() == "summarize@1"
    split = admin.put("/prompts/summarize/labels/production", json={"split": {"1": 90, "3": 10}})
    assert split.json()["to"] == {"1": 90.0, "3": 10.0}
    assert admin.put("/prompts/summarize/labels/production", json={"split": {"1": 90}}).status_code == 400
    assert admin.post("/prompts/summarize/labels/production/rollback").json()["to"] == 1
    history = admin.get("/prompts/summarize").json()["history"][2:]
    assert [(m["from"], m["to"], m["reason"]) for m in history] == [
        (3, 1, "rollback"), (1, 3, "move"), (None, 1, "first load"),
    ]  # fmt: skip
    assert history[-1]["by"].endswith("summarize/v1.yaml")
    assert httpx.get(f"{keel.base_url}/admin/prompts").status_code == 401
    admin.close()


@pytest.mark.parametrize(
    ("path", "body", "status", "param"),
    [
        ("/v1/chat/completions", {"prompt": 5}, 400, "prompt"),
        ("/v1/chat/completions", {"prompt": {"name": 3}}, 400, "prompt.name"),
        (
            "/v1/chat/completions",
            {"prompt": {"name": "summarize", "variables": [1]}},
            400,
            "prompt.variables",
        ),
        ("/v1/chat/completions", {"prompt": {"name": "summarize", "version": "2"}}, 400, "prompt.version"),
        ("/v1/chat/completions", {"prompt": {"name": "summarize", "colour": 1}}, 400, "prompt.colour"),
        ("/v1/chat/completions", {"prompt": "summarize@9", "messages": "hi"}, 400, "messages"),
        ("/v1/chat/completions", {"prompt": "summarize@9"}, 404, "prompt.version"),
        ("/v1/chat/completions", {"prompt": "summarize@2", "messages": [{"role": "nobody"}]}, 400, None),
        (
            "/v1/prompts/summarize@2/completions",
            {"variables": {"document": {"a": 1}}},
            400,
            "variables.document",
        ),
        ("/v1/prompts/summarize@2/completions", {"prompt": "x"}, 400, "prompt"),
        ("/v1/prompts/a/b/completions", {}, 404, None),
        ("/v1/prompts//completions", {}, 404, None),
    ],
)
def test_bad_prompt_requests_are_4xx_never_5xx(
    keel_with_prompts: tuple[RunningKeel, str],
    path: str,
    body: dict[str, Any],
    status: int,
    param: str | None,
) -> None:
    """Each malformed prompt request is answered with its 4xx in OpenAI's shape, naming the field."""
    keel, _ = keel_with_prompts
    answer = httpx.post(f"{keel.base_url}{path}", json=body, headers={"authorization": f"Bearer {MASTER}"})
    assert answer.status_code == status, answer.text
    if param is not None:
        assert answer.json()["error"]["param"] == param


def test_feedback_on_answers_reaches_the_stats_of_their_versions(
    keel_with_prompts: tuple[RunningKeel, str], tmp_path: Path
) -> None:
    """POST /v1/feedback with each answer's x-request-id: 201; a bad body is a 400 naming the field;
    ``keel prompts stats`` shows each version's mean score and how many."""
    from typer.testing import CliRunner

    from keel.prompts.cli import prompts_app

    keel, _ = keel_with_prompts
    auth = {"authorization": f"Bearer {MASTER}"}
    for version, score in ((1, 1), (1, 0), (2, 1), (2, 1)):
        answer = httpx.post(
            f"{keel.v1}/prompts/summarize@{version}/completions",
            json={"variables": VARIABLES if version == 1 else {"document": "x"}},
            headers=auth,
        )
        given = httpx.post(
            f"{keel.v1}/feedback",
            json={"request_id": answer.headers["x-request-id"], "score": score},
            headers=auth,
        )
        assert given.status_code == 201 and given.json()["recorded"] is True
    bad = httpx.post(f"{keel.v1}/feedback", json={"request_id": "x", "score": "great"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "score"
    config = tmp_path / "stats.yaml"
    config.write_text(f"database: {keel.app.gateway.config.database}\n")

    result = CliRunner().invoke(
        prompts_app, ["stats", "summarize", "--format", "json", "--config", str(config)]
    )

    variants = {v["version"]: v for v in orjson.loads(result.stdout)["variants"]}
    assert (variants[1]["feedback_mean"], variants[1]["feedback_count"]) == (0.5, 2)
    assert (variants[2]["feedback_mean"], variants[2]["feedback_count"]) == (1.0, 2)
    over_http = httpx.get(f"{keel.base_url}/admin/prompts/summarize/stats?since=1d", headers=auth).json()
    assert over_http["variants"] == orjson.loads(result.stdout)["variants"]


_ANY = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_PROMPT = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["summarize", "summarize@2", "summarize@x", "nope", ""]) | _ANY,
        "label": st.sampled_from(["production", "latest", "staging"]) | _ANY,
        "version": st.sampled_from([1, 2, 9]) | _ANY,
        "variables": st.fixed_dictionaries({}, optional={"document": _ANY, "audience": _ANY}) | _ANY,
    },
)
_BODY = st.fixed_dictionaries(
    {},
    optional={
        "model": st.sampled_from(["", "smart", "mock/ok"]) | _ANY,
        "messages": st.lists(st.fixed_dictionaries({"role": st.just("user"), "content": _ANY}), max_size=2)
        | _ANY,
        "stream": _ANY,
        "temperature": _ANY,
        "max_tokens": _ANY,
        "variables": _ANY,
        "label": _ANY,
        "version": _ANY,
        "system": _ANY,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    prompt=_PROMPT | _ANY,
    body=_BODY,
    path=st.sampled_from(["/v1/chat/completions", "/v1/messages", "/v1/prompts/summarize/completions"]),
)
def test_no_prompt_request_makes_a_5xx(
    one_keel: RunningKeel, prompt: object, body: dict[str, Any], path: str
) -> None:
    """Property: whatever a client puts in a prompt request, the answer is below 500."""
    if path != "/v1/prompts/summarize/completions":
        body = {**body, "prompt": prompt}
    answer = httpx.post(
        f"{one_keel.base_url}{path}", json=body, headers={"authorization": f"Bearer {MASTER}"}, timeout=20
    )
    assert answer.status_code < 500, answer.text

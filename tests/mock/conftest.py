"""A fresh mock per test, and the clients that talk to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import anthropic
import openai
import pytest

from keel.mock import MockServer


@pytest.fixture
async def server() -> AsyncIterator[MockServer]:
    mock = MockServer()
    async with mock.serve():
        yield mock


@pytest.fixture
async def client(server: MockServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as sdk:
        yield sdk


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as http:
        yield http


@pytest.fixture
async def claude(server: MockServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    """The official Anthropic SDK pointed at the mock's ``/v1/messages``, with its own retries off."""
    root = (server.base_url or "").removesuffix("/v1")
    async with anthropic.AsyncAnthropic(base_url=root, api_key="x", max_retries=0) as sdk:
        yield sdk

"""Message content between the formats: OpenAI content parts ⇄ Anthropic content blocks."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ..errors import RequestError
from ..types import ContentPart

__all__ = ["IMAGE_MEDIA_TYPES", "parts_from_blocks", "text_of_blocks", "to_blocks"]

IMAGE_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
# Blocks already in Anthropic's shape pass through an OpenAI-format message unchanged.
_NATIVE_BLOCKS = frozenset(
    {"image", "document", "search_result", "thinking", "redacted_thinking", "tool_use", "tool_result"}
)
_DATA_URL = re.compile(r"^data:(?P<media>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)$", re.DOTALL)


def to_blocks(content: str | Iterable[ContentPart | dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Anthropic content blocks for an OpenAI message's content; empty text is left out.

    Raises:
        RequestError: a part Anthropic cannot take (audio, a file by id, an image of another type).
    """
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content:
        raw = part.wire() if isinstance(part, ContentPart) else dict(part)
        block = _block(raw)
        if block is not None:
            blocks.append(block)
    return blocks


def _block(part: dict[str, Any]) -> dict[str, Any] | None:
    kind = part.get("type")
    if kind in _NATIVE_BLOCKS:
        return part
    if kind == "text":
        if not part.get("text"):
            return None
        block: dict[str, Any] = {"type": "text", "text": part["text"]}
    elif kind == "image_url":
        block = {"type": "image", "source": _image_source(part.get("image_url") or {})}
    elif kind == "file":
        block = {"type": "document", "source": _document_source(part.get("file") or {})}
    else:
        raise RequestError(f"an Anthropic route cannot take {kind!r} content parts")
    if part.get("cache_control") is not None:
        block["cache_control"] = part["cache_control"]
    return block


def _image_source(image: dict[str, Any]) -> dict[str, Any]:
    url = str(image.get("url") or "")
    match = _DATA_URL.match(url)
    if match is None:
        if not url:
            raise RequestError("an image_url part needs a url")
        return {"type": "url", "url": url}
    media = match["media"].lower()
    if media not in IMAGE_MEDIA_TYPES:
        raise RequestError(f"Anthropic takes {', '.join(sorted(IMAGE_MEDIA_TYPES))} images, not {media}")
    return {"type": "base64", "media_type": media, "data": match["data"]}


def _document_source(file: dict[str, Any]) -> dict[str, Any]:
    match = _DATA_URL.match(str(file.get("file_data") or ""))
    if match is None or match["media"].lower() != "application/pdf":
        raise RequestError(
            "an Anthropic route takes files only as PDF data (file_data: data:application/pdf)"
        )
    return {"type": "base64", "media_type": "application/pdf", "data": match["data"]}


def parts_from_blocks(content: str | list[dict[str, Any]] | None) -> str | list[dict[str, Any]]:
    """OpenAI content for Anthropic content: a string when it is one text, else parts.

    ``cache_control`` and citations are left out: OpenAI has no such fields.

    Raises:
        RequestError: a block with no OpenAI equivalent (a document by URL, a server tool result).
    """
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    parts = [_part(block) for block in content]
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _part(block: dict[str, Any]) -> dict[str, Any]:
    kind = block.get("type")
    source = block.get("source") or {}
    if kind == "text":
        return {"type": "text", "text": block.get("text") or ""}
    if kind == "image" and source.get("type") == "url":
        return {"type": "image_url", "image_url": {"url": source.get("url")}}
    if kind == "image" and source.get("type") == "base64":
        return {"type": "image_url", "image_url": {"url": _data_url(source)}}
    if kind == "document" and source.get("type") == "base64":
        name = block.get("title") or "document.pdf"
        return {"type": "file", "file": {"filename": name, "file_data": _data_url(source)}}
    if kind == "document" and source.get("type") == "text":
        return {"type": "text", "text": source.get("data") or ""}
    what = f"{kind} ({source.get('type')})" if source else kind
    raise RequestError(f"a {what} content block needs an Anthropic route")


def _data_url(source: dict[str, Any]) -> str:
    return f"data:{source.get('media_type')};base64,{source.get('data')}"


def text_of_blocks(content: str | list[dict[str, Any]] | None) -> str:
    """The text of Anthropic content (a string, or the text blocks joined), for tool results and system."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for block in content:
        if block.get("type") != "text":
            raise RequestError(f"only text can go here on a non-Anthropic route, not {block.get('type')!r}")
        texts.append(block.get("text") or "")
    return "\n".join(texts)

"""Read a request body without ever holding more than the configured limit."""

from __future__ import annotations

import json

from starlette.requests import Request

from common.numbers import BIGINT_DIGITS, parse_number


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; raises BodyTooLarge as soon as a declared or streamed size passes `limit`."""
    declared = request.headers.get("content-length", "")
    size_declared = parse_number(declared, max_digits=BIGINT_DIGITS, thai=False)
    if size_declared is not None and size_declared > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def load_json(body: bytes) -> object:
    """The parsed JSON; ValueError for anything that is not JSON, however it fails.

    `json.loads` raises RecursionError (not ValueError) for a deeply nested body such as
    100 000 "[": that must be a 400 like any other malformed body, never a 500.
    """
    try:
        return json.loads(body)
    except RecursionError as exc:
        raise ValueError("JSON nested too deeply") from exc

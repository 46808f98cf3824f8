"""Server-sent events: the one encoder for streamed answers, and the headers that keep proxies from
buffering them."""

from __future__ import annotations

import json
from typing import Any

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: dict[str, Any]) -> str:
    """One event in the text/event-stream format."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def sse_data(data: dict[str, Any]) -> str:
    """One unnamed event (the OpenAI streaming format)."""
    return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

"""The UI's web server (``kb ui`` runs ``streamlit run`` on this file): the Streamlit pages of
``main.py`` plus two small routes of the UI's own.

- ``POST /_kb/session`` swaps a one-time sign-in code for an HttpOnly session cookie;
  ``DELETE /_kb/session`` clears it (``app/ui/web_session.py``).
- ``GET /_kb/files/{document_id}`` opens a cited document: it is fetched from the API's
  ``GET /documents/{id}/file`` with the signed-in user's token, so the API checks the permission and
  records it in the audit log. Citations link here with ``#page=N`` for PDFs.
"""

import sys
from collections.abc import AsyncIterator
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

import httpx  # noqa: E402
import streamlit as st  # noqa: E402
from starlette.background import BackgroundTask  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import PlainTextResponse, Response, StreamingResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from app.ui.client import problem_from  # noqa: E402
from app.ui.config import api_url  # noqa: E402
from app.ui.web_session import COOKIE, FILES_PATH, SESSION_PATH, redeem  # noqa: E402

PASSED_HEADERS = (
    *("content-type", "content-disposition", "content-length", "last-modified", "etag"),
    *("x-content-type-options", "content-security-policy"),
)


async def session(request: Request) -> Response:
    if request.method == "DELETE":
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response
    try:
        code = str((await request.json()).get("code") or "")
    except ValueError:
        code = ""
    found = redeem(code)
    if found is None:
        return PlainTextResponse("unknown or expired sign-in code; sign in again", status_code=400)
    token, max_age = found
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(max_age),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def document_file(request: Request) -> Response:
    token = request.cookies.get(COOKIE)
    if not token:
        return PlainTextResponse("Sign in to the assistant, then open the source again.", status_code=401)
    client = httpx.AsyncClient(base_url=api_url(), timeout=httpx.Timeout(60.0, connect=5.0))
    url = f"/documents/{request.path_params['document_id']}/file"
    try:
        upstream = await client.send(
            client.build_request("GET", url, headers={"Authorization": f"Bearer {token}"}), stream=True
        )
    except httpx.TransportError:
        await client.aclose()
        return PlainTextResponse("The API cannot be reached; try again later.", status_code=502)
    if upstream.status_code != 200:
        await upstream.aread()
        await client.aclose()
        problem = problem_from(upstream)
        return PlainTextResponse(problem.detail, status_code=problem.status or upstream.status_code)

    async def body() -> AsyncIterator[bytes]:
        async for block in upstream.aiter_bytes():
            yield block

    async def close() -> None:
        await upstream.aclose()
        await client.aclose()

    headers = {k: v for k, v in upstream.headers.items() if k.lower() in PASSED_HEADERS}
    return StreamingResponse(body(), headers=headers, background=BackgroundTask(close))


app = st.App(
    "main.py",
    routes=[
        Route(SESSION_PATH, session, methods=["POST", "DELETE"]),
        Route(FILES_PATH + "/{document_id}", document_file, methods=["GET"]),
    ],
)

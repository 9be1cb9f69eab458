"""The conversation page's forms: reply, note, take, transfer, return to the queue,
close, reopen, labels, retry a delivery. Each answers JSON to the page script
(``Accept: application/json``) and a redirect to plain forms; a refusal re-renders
the page with the message and the agent's draft kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from canales.core.events import message_dict
from canales.core.inbox import actions
from canales.core.inbox.access import SignedIn, signed_in, site_for
from canales.core.inbox.pages import conversation_page
from canales.core.inbox.web import as_id, done, path_id, wants_json
from canales.core.site import Site

OPTION_PREFIX = "option."


def _page(site: Site, conversation_id: int) -> str:
    return f"/inbox/{site.id}/conversations/{conversation_id}"


async def _run(
    request: Request,
    action: Callable[[Site, SignedIn, str, int, Any], Awaitable[Any]],
    code: str,
    *,
    draft_field: str | None = None,
) -> Response:
    who = await signed_in(request)
    site, role = site_for(request, who)
    conversation_id = path_id(request, "conversation_id")
    form = await request.form()
    try:
        result = await action(site, who, role, conversation_id, form)
    except actions.ActionError as exc:
        if wants_json(request):
            return JSONResponse({"error": "refused", "message": str(exc)}, status_code=422)
        drafts = {draft_field: str(form.get("text", ""))} if draft_field else {}
        return await conversation_page(request, error=str(exc), status=422, **drafts)
    payload = {"created": message_dict(result)} if code in ("reply", "note") else {}
    return done(request, _page(site, conversation_id), code, **payload)


async def reply(request: Request) -> Response:
    async def act(site: Site, who: SignedIn, role: str, cid: int, form: Any) -> Any:
        chosen = {k[len(OPTION_PREFIX):]: str(v) for k, v in form.multi_items() if k.startswith(OPTION_PREFIX)}
        return await actions.reply(site, who, role, cid, form.get("text", ""), chosen)

    return await _run(request, act, "reply", draft_field="draft")


async def note(request: Request) -> Response:
    async def act(site: Site, who: SignedIn, role: str, cid: int, form: Any) -> Any:
        return await actions.note(site, who, role, cid, form.get("text", ""))

    return await _run(request, act, "note", draft_field="note_draft")


async def take(request: Request) -> Response:
    return await _run(request, lambda site, who, role, cid, form: actions.take(site, who, role, cid), "assigned")


async def transfer(request: Request) -> Response:
    async def act(site: Site, who: SignedIn, role: str, cid: int, form: Any) -> Any:
        target = str(form.get("target", ""))
        kind, _, value = target.partition(":")
        return await actions.transfer(
            site,
            who,
            role,
            cid,
            to_agent=as_id(value) if kind == "agent" else None,
            to_team=value if kind == "team" and value else None,
            reason=str(form.get("reason", "")),
        )

    return await _run(request, act, "transferred")


async def release(request: Request) -> Response:
    return await _run(
        request, lambda site, who, role, cid, form: actions.release(site, who, role, cid, str(form.get("reason", ""))), "released"
    )


async def close(request: Request) -> Response:
    return await _run(request, lambda site, who, role, cid, form: actions.close(site, who, role, cid), "closed")


async def reopen(request: Request) -> Response:
    return await _run(request, lambda site, who, role, cid, form: actions.reopen(site, who, role, cid), "reopened")


async def labels(request: Request) -> Response:
    async def act(site: Site, who: SignedIn, role: str, cid: int, form: Any) -> Any:
        raw = str(form.get("labels", ""))[:2000]
        return await actions.set_labels(site, who, role, cid, raw.split(","))

    return await _run(request, act, "labels")


async def retry(request: Request) -> Response:
    """"Reintentar" on a failed delivery."""
    who = await signed_in(request)
    site, role = site_for(request, who)
    delivery = await actions.retry_delivery(site, who, role, path_id(request, "delivery_id"))
    return done(request, _page(site, delivery.conversation_id), "retry")

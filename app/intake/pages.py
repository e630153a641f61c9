"""The seller's side of a hand-over link: the form (``GET``) and its submission (``POST``).

HTTP only: which page answers, with which status. What is decided lives in ``handover``; the
words for fields and refusals in ``form`` and ``refusals``. No secret that was pasted is ever
put back into a page: after a refusal the form comes back with the identifiers only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from app.credentials.models import Credential
from app.db import SessionDep
from app.errors import ServiceUnavailable
from app.intake import handover
from app.intake.deps import IntakeState, StateDep
from app.intake.form import fields_for
from app.intake.handover import LinkBusy, LinkGone
from app.intake.models import IntakeLink, LinkState
from app.intake.refusals import Refusal, busy_refusal
from app.intake.tokens import csrf_token
from app.ops.metrics import UNKNOWN_TOKENS
from app.pages.render import render_message, render_page, render_too_many
from app.pages.throttle import client_address

router = APIRouter(prefix="/intake", include_in_schema=False)

FORM_FIELDS = 10  # the form has four; anything beyond a few more is not a browser's post
GONE_TITLES: Mapping[LinkState | None, str] = {
    None: "This link is not valid",
    "used": "This link has already been used",
    "expired": "This link has expired",
    "revoked": "This link was cancelled",
    "failed": "This link has stopped working",
}


@router.get("/{token}", response_class=HTMLResponse)
async def show_form(token: str, request: Request, session: SessionDep, state: StateDep) -> Any:
    try:
        link = await handover.open_link(session, token)
    except LinkGone as gone:
        return _gone_page(request, state, gone.state)
    values = await handover.prefill(session, link)
    return _form_page(request, link, token, values=values)


@router.post("/{token}", response_class=HTMLResponse)
async def submit_form(token: str, request: Request, state: StateDep) -> Any:
    # The link is looked up first so that posts to tokens that name nothing spend their own
    # bucket, never the budget of the sellers sharing the address.
    address = client_address(request)
    try:
        link = await handover.open_link_briefly(state.handover, token)
    except LinkGone as gone:
        if not (verdict := state.page_throttle.stranger(address)).allowed:
            return render_too_many(request, verdict.retry_after_seconds)
        if gone.state is None:
            UNKNOWN_TOKENS.labels(page="intake").inc()
        return _gone_page(request, state, gone.state)
    if not (verdict := state.page_throttle.address(address)).allowed:
        return render_too_many(request, verdict.retry_after_seconds)
    if not (verdict := state.page_throttle.link(str(link.id))).allowed:
        return render_too_many(request, verdict.retry_after_seconds)
    form = await request.form(max_files=0, max_fields=FORM_FIELDS)
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    identifiers = _identifiers(link, fields)
    request_id = getattr(request.state, "request_id", None)
    try:
        credential = await handover.submit(
            state.handover, link, token, fields, request_id=request_id
        )
    except LinkGone as gone:
        return _gone_page(request, state, gone.state)
    except LinkBusy:
        busy = busy_refusal()
        return _form_page(request, link, token, values=identifiers, refusal=busy, status=409)
    except Refusal as refused:
        if refused.tries_left == 0:
            return _gone_page(request, state, "failed", first=_first_error(refused))
        return _form_page(request, link, token, values=identifiers, refusal=refused)
    except ServiceUnavailable:
        return render_message(
            request,
            title="Sorry, there is a problem with the service",
            paragraphs=["Nothing was saved. Please try again in a few minutes."],
            status_code=503,
            outcome="problem",
        )
    return _done_page(request, credential)


def _identifiers(link: IntakeLink, fields: Mapping[str, str]) -> dict[str, str]:
    """What the seller typed that may be shown again: never a secret field."""
    return {
        spec.name: fields.get(spec.name, "").strip()
        for spec in fields_for(link.kind, link.market)
        if not spec.secret
    }


def _form_page(
    request: Request,
    link: IntakeLink,
    token: str,
    *,
    values: Mapping[str, str],
    refusal: Refusal | None = None,
    status: int | None = None,
) -> HTMLResponse:
    specs = fields_for(link.kind, link.market)
    by_field = dict(refusal.errors) if refusal else {}
    first = specs[0].name
    fields = [
        {
            "name": spec.name,
            "label": spec.label,
            "hint": spec.hint,
            "secret": spec.secret,
            "multiline": spec.multiline,
            "value": "" if spec.secret else values.get(spec.name, ""),
            "error": by_field.get(spec.name),
        }
        for spec in specs
    ]
    known = {spec.name for spec in specs}
    errors = [
        {"target": name if name in known else first, "message": message}
        for name, message in by_field.items()
    ]
    rotation = link.credential_id is not None
    what = "Walmart Canada" if link.kind == "signature" else f"Walmart {link.market}"
    context = {
        "title": (
            "Send your new Walmart keys to mPorts"
            if rotation
            else "Send your Walmart API keys to mPorts"
        ),
        "intro": f"mPorts needs your {what} API keys for {link.label} to work with your "
        "Walmart orders.",
        "expires": link.expires_at.strftime("%-d %B %Y, %H:%M UTC"),
        "kind": link.kind,
        "rotation": rotation,
        "fields": fields,
        "errors": errors,
        "tries_left": refusal.tries_left if refusal and refusal.counted else None,
        "csrf_token": csrf_token(token, link.id),
        "outcome": "problem" if errors else "info",
    }
    code = status if status is not None else (422 if errors else 200)
    return render_page(request, "intake_form.html", context, status_code=code)


def _done_page(request: Request, credential: Credential) -> HTMLResponse:
    words = {"valid": "Working: Walmart accepted these keys just now"}
    context = {
        "title": "Your keys are with mPorts",
        "label": credential.label,
        "status": credential.status,
        "status_words": words.get(credential.status, credential.status),
        "fingerprint": credential.fingerprint,
        "outcome": "success",
    }
    return render_page(request, "intake_done.html", context)


def _gone_page(
    request: Request, state: IntakeState, link_state: LinkState | None, *, first: str = ""
) -> HTMLResponse:
    contact = state.settings.intake_contact
    why = {
        None: "Check that you copied the whole link from the message you were sent.",
        "used": "Your keys were already sent with it. Each link works once.",
        "expired": "Links work for a few days only, for your security.",
        "revoked": "The person who sent it cancelled it.",
        "failed": "It was tried too many times without success, so it was switched off.",
    }[link_state]
    paragraphs = [
        p
        for p in (
            first,
            why,
            f"Nothing you paste here can reach mPorts now. "
            f"If you still need to send keys, ask {contact} for a "
            "new link.",
        )
        if p
    ]
    return render_message(
        request,
        title=GONE_TITLES[link_state],
        paragraphs=paragraphs,
        status_code=404 if link_state is None else 410,
        outcome="problem",
    )


def _first_error(refusal: Refusal) -> str:
    return next(iter(refusal.errors.values()), "")

"""What a seller's callback can come to: one code per outcome, its HTTP status, and what the
page tells the seller (what happened, and what to do next)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallbackPage:
    status_code: int
    title: str
    paragraphs: tuple[str, ...]


_ASK_FOR_A_NEW_LINK = (
    "Go back to mPorts and press Connect again: it gives you a new link to Walmart."
)

PAGES: dict[str, CallbackPage] = {
    "connected": CallbackPage(
        200,
        "Your Walmart account is connected",
        (
            "Walmart confirmed that you authorized mPorts. mPorts can now work with your "
            "Walmart Marketplace account; nobody needed your Walmart keys.",
            "You can close this page. To disconnect later, remove mPorts under Apps in "
            "Walmart Seller Center.",
        ),
    ),
    "declined": CallbackPage(
        403,
        "You declined the connection",
        (
            "You chose Decline on Walmart's page, so mPorts has no access to your account and "
            "nothing was stored.",
            "If that was a mistake, go back to mPorts and press Connect again.",
        ),
    ),
    "unknown_state": CallbackPage(
        400,
        "This connection link is not valid",
        (
            "The address you arrived at does not belong to any connection mPorts started "
            "(it may have been changed or cut off). Nothing was stored.",
            _ASK_FOR_A_NEW_LINK,
        ),
    ),
    "state_used": CallbackPage(
        409,
        "This connection link was already used",
        (
            "Each link to Walmart works once, and this one has been used already. Nothing "
            "was changed by opening it again.",
            "If your account shows as connected in mPorts, there is nothing more to do. "
            "Otherwise, " + _ASK_FOR_A_NEW_LINK[0].lower() + _ASK_FOR_A_NEW_LINK[1:],
        ),
    ),
    "state_expired": CallbackPage(
        410,
        "This connection link has expired",
        (
            "Links to Walmart work for a limited time, and this one ran out before Walmart "
            "sent you back. Nothing was stored.",
            _ASK_FOR_A_NEW_LINK,
        ),
    ),
    "client_mismatch": CallbackPage(
        400,
        "Walmart sent you back for a different app",
        (
            "The answer from Walmart names an app other than mPorts', so it was not accepted "
            "and nothing was stored.",
            _ASK_FOR_A_NEW_LINK,
        ),
    ),
    "incomplete_callback": CallbackPage(
        400,
        "Walmart's answer was incomplete",
        (
            "The address you arrived at lacks the authorization code or your seller id, so "
            "the connection could not be completed. Nothing was stored.",
            _ASK_FOR_A_NEW_LINK,
        ),
    ),
    "code_refused": CallbackPage(
        502,
        "Walmart did not confirm the connection",
        (
            "Walmart refused to exchange the authorization it gave you, so the connection "
            "was not made and nothing was stored.",
            _ASK_FOR_A_NEW_LINK,
        ),
    ),
    "walmart_unavailable": CallbackPage(
        503,
        "Walmart could not be reached",
        (
            "Walmart did not answer while your connection was being completed, so nothing "
            "was stored.",
            "Wait a few minutes, then go back to mPorts and press Connect again.",
        ),
    ),
    "test_failed": CallbackPage(
        502,
        "Walmart did not accept the new connection",
        (
            "Walmart issued access for your account but then refused it when mPorts checked "
            "it, so the connection was not switched over.",
            _ASK_FOR_A_NEW_LINK + " If it happens again, contact mPorts support.",
        ),
    ),
}

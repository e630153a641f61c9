"""``vault-admin webhooks``: see the endpoints and send one a test event.

``test`` queues a ``webhook.test`` event like ``POST /v1/webhooks/{id}/test`` and then waits
for the running vault to deliver it: the vault's replicas are the only senders, so the CLI
never races them for a delivery.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from app.cli.context import OPERATOR, Context, console, errors, run
from app.cli.output import JsonOption, print_json_lines, print_table
from app.cli.paging import every_row
from app.db import transaction
from app.webhooks import service
from app.webhooks.schemas import WebhookOut

app = typer.Typer(help="Webhook endpoints: list, test.", no_args_is_help=True)
POLL_SECONDS = 0.2


@app.command("list")
def list_webhooks(as_json: JsonOption = False) -> None:
    """List webhook endpoints (never their secrets)."""

    async def command(context: Context) -> None:
        async with context.sessionmaker() as session:
            rows = await every_row(lambda page: service.list_endpoints(session, page=page))
        if as_json:
            print_json_lines(WebhookOut.model_validate(e) for e in rows)
            return
        columns = ("id", "url", "events", "enabled", "failing since", "secret version")
        print_table(
            console,
            "Webhook endpoints",
            columns,
            (
                (
                    e.id,
                    e.url,
                    ",".join(e.events),
                    "yes" if e.enabled else f"no ({e.disabled_reason})",
                    e.failing_since.isoformat(timespec="seconds") if e.failing_since else "",
                    e.secret_version,
                )
                for e in rows
            ),
        )

    run(command)


@app.command("test")
def send_test(
    webhook_id: Annotated[uuid.UUID, typer.Argument(help="The endpoint's id.")],
    wait: Annotated[float, typer.Option(help="Seconds to wait for the delivery.")] = 15.0,
) -> None:
    """Queue a signed webhook.test event and report how its delivery went."""

    async def command(context: Context) -> bool:
        async with transaction(context.sessionmaker) as session:
            event, delivery = await service.send_test(
                session, caller=OPERATOR, endpoint_id=webhook_id
            )
        console.print(f"queued {event.id} (delivery {delivery.id})")
        deadline = asyncio.get_running_loop().time() + wait
        while asyncio.get_running_loop().time() < deadline:
            async with context.sessionmaker() as session:
                current = await service.get_delivery(
                    session, endpoint_id=webhook_id, delivery_id=delivery.id
                )
            if current.history:
                last = current.history[-1]
                console.print(
                    f"attempt {current.attempts}: status {last['status_code']}, "
                    f"{last['latency_ms']} ms, {last['error'] or 'delivered'}",
                    markup=False,
                )
                return current.state == "succeeded"
            await asyncio.sleep(POLL_SECONDS)
        errors.print("not delivered yet: is the vault running? (the event stays queued)")
        return False

    if not run(command):
        raise typer.Exit(code=1)

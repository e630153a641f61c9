"""Signed webhooks: endpoints that subscribe to events, an outbox, and the delivery loop.

``events.emit`` is the one call a change makes to announce itself (in its own transaction);
``dispatcher`` delivers what the outbox holds, signed per Standard Webhooks.
"""

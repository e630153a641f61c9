"""What counts as a leak of a pasted key, for the tests that check messages and reprs."""

import re

# PEM armour and encapsulated headers (Proc-Type, DEK-Info) are public structure.
_NOT_SECRET = re.compile(r"-----|[A-Za-z-]+:\s")


def secret_fragments(text: str) -> set[str]:
    """Every 12-character run of the pasted text outside PEM armour: none may be echoed."""
    body = "".join(line for line in text.splitlines() if not _NOT_SECRET.match(line.strip()))
    compact = "".join(body.split())
    return {compact[i : i + 12] for i in range(max(0, len(compact) - 11))}

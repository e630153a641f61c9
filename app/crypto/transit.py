"""OpenBao / HashiCorp Vault Transit as a ``KekProvider``, spoken to over HTTP with httpx.

A DEK is wrapped by ``POST /v1/<mount>/encrypt/<key>`` and unwrapped by ``.../decrypt/<key>``.
The row's encryption context goes along as Transit's ``associated_data``, which only AEAD
key types honour (``aes256-gcm96``, the default, and ``chacha20-poly1305``; an RSA key
refuses it), so a DEK unwraps only for the row it was wrapped for. The wrapped blob stored
in the sealed form is Transit's own ``vault:vN:...`` text, and the key id is the key name.

Rotating the Transit key (``keys/<name>/rotate``) keeps its name: older versions keep
decrypting until ``min_decryption_version`` is raised, and ``Envelope.rewrap`` leaves such
values alone (same provider, same key id). Moving to another key *name* or mount works like
any provider change: new provider active, old one in ``Envelope(others=...)``, ``rewrap``.

Encrypting under a key that does not exist *creates* it when the token may create keys (a
root or dev token can): give the service a token whose policy grants only ``update`` on
``<mount>/encrypt/<key>`` and ``<mount>/decrypt/<key>``, so a mistyped key name is a 403
instead of a fresh key. ``ensure_key`` creates the key on purpose, for dev bootstrap and tests.

Failures: a refused token (401/403), a missing mount (404), rate limiting (429), a sealed or
failing server (5xx), network errors and timeouts are ``KekUnavailable``: the service cannot
work until someone acts or the server returns. Any other 4xx from ``decrypt`` is a verdict
on the blob (bad tag, wrong key, unknown key) and is ``SealedValueUnreadable``. The token is
never shown in a ``repr`` or a message; Transit's own error texts are not repeated either.
"""

import base64
import binascii
import re
from collections.abc import Mapping
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx

from app.crypto._binding import encode_context
from app.crypto.errors import EnvelopeError, KekUnavailable, SealedValueUnreadable

# ``.`` and ``..`` alone would turn the request path into another endpoint.
_KEY_NAME = re.compile(r"(?!\.\.?$)[A-Za-z0-9_.-]{1,128}")
_MOUNT = re.compile(r"(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")


class TransitProvider:
    """A ``KekProvider`` wrapping DEKs under one named Transit key."""

    def __init__(
        self,
        *,
        address: str,
        token: str,
        key_name: str,
        mount: str = "transit",
        timeout: float = 5.0,
        namespace: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        if not _KEY_NAME.fullmatch(key_name):
            raise ValueError("key_name must be 1-128 of A-Z a-z 0-9 _ . -")
        if not _MOUNT.fullmatch(mount):
            raise ValueError("mount must be a path of A-Z a-z 0-9 _ . - segments")
        if not token:
            raise ValueError("token is empty")
        url = httpx.URL(address)
        # Credentials in the URL would end up in the repr and in every error message.
        if url.scheme not in ("http", "https") or url.userinfo:
            raise ValueError("address must be an http:// or https:// URL without credentials")
        self._address = address.rstrip("/")
        self._key_name = key_name
        self._mount = mount
        self._headers = {"X-Vault-Token": token}
        if namespace:
            self._headers["X-Vault-Namespace"] = namespace
        # Passed on every request, so a shared client's own defaults cannot loosen it.
        self._timeout = httpx.Timeout(timeout)
        self._owns_http = http is None
        self._http = (
            http
            if http is not None
            else httpx.AsyncClient(
                timeout=self._timeout,
                # No cookie jar: a jar allowing no domain stores nothing and sends nothing.
                cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            )
        )

    @property
    def name(self) -> str:
        return "transit"

    @property
    def active_key_id(self) -> str:
        return self._key_name

    def knows(self, key_id: str) -> bool:
        return key_id == self._key_name

    def __repr__(self) -> str:
        return (
            f"TransitProvider(address={self._address!r}, mount={self._mount!r}, "
            f"key_name={self._key_name!r})"
        )

    async def aclose(self) -> None:
        """Close the HTTP client this provider made (a passed-in one belongs to the caller)."""
        if self._owns_http:
            await self._http.aclose()

    async def wrap(self, dek: bytes, *, context: Mapping[str, str]) -> tuple[str, bytes]:
        body = {"plaintext": _b64(dek), "associated_data": _b64(encode_context(context))}
        response = await self._post(f"encrypt/{self._key_name}", body, opening=False)
        ciphertext = self._field(response, "ciphertext")
        return self._key_name, ciphertext.encode("ascii")

    async def unwrap(self, key_id: str, wrapped: bytes, *, context: Mapping[str, str]) -> bytes:
        if key_id != self._key_name or not wrapped.isascii():
            raise SealedValueUnreadable()
        ciphertext = wrapped.decode("ascii")
        body = {"ciphertext": ciphertext, "associated_data": _b64(encode_context(context))}
        response = await self._post(f"decrypt/{self._key_name}", body, opening=True)
        try:
            return base64.b64decode(self._field(response, "plaintext"), validate=True)
        except binascii.Error:
            raise KekUnavailable("Transit answered with a plaintext that is not base64") from None

    async def ensure_key(self, key_type: str = "aes256-gcm96") -> None:
        """Create the key if it is missing; refuse one that exists with another type."""
        path = f"{self._address}/v1/{self._mount}/keys/{self._key_name}"
        response = await self._send("GET", path, None)
        if response.status_code == 404:
            self._check(await self._send("POST", path, {"type": key_type}), opening=False)
            return
        self._check(response, opening=False)
        if (actual := self._field(response, "type")) != key_type:
            raise EnvelopeError(f"transit key {self._key_name!r} is {actual}, not {key_type}")

    async def _post(self, action: str, body: dict[str, str], *, opening: bool) -> httpx.Response:
        response = await self._send("POST", f"{self._address}/v1/{self._mount}/{action}", body)
        self._check(response, opening=opening)
        return response

    async def _send(self, method: str, url: str, body: dict[str, str] | None) -> httpx.Response:
        try:
            return await self._http.request(
                method, url, json=body, headers=self._headers, timeout=self._timeout
            )
        except httpx.TransportError as exc:
            raise KekUnavailable(
                f"Transit at {self._address} could not be reached ({type(exc).__name__})"
            ) from None

    def _check(self, response: httpx.Response, *, opening: bool) -> None:
        status = response.status_code
        if status in (200, 204):
            return
        if status in (401, 403):
            raise KekUnavailable(
                f"Transit at {self._address} refused the vault token (HTTP {status}): it is "
                f"wrong or expired, or its policy does not cover {self._mount}/*/{self._key_name}"
            )
        if status == 429 or status >= 500:
            state = " (sealed or standby)" if status == 503 else ""
            raise KekUnavailable(f"Transit at {self._address} answered HTTP {status}{state}")
        if opening and status != 404:
            raise SealedValueUnreadable()
        # Encrypt refused, or no route at all (wrong mount): every call would fail alike.
        raise KekUnavailable(
            f"Transit at {self._address} refused {self._mount}/{self._key_name} (HTTP {status})"
        )

    @staticmethod
    def _field(response: httpx.Response, name: str) -> str:
        # A 200 that is not Transit's JSON (a proxy's page, a truncated body) is not an
        # answer about the value, so it is "unavailable", never "unreadable".
        try:
            data: Any = response.json()["data"]
            value = data[name]
        except (ValueError, KeyError, TypeError):
            value = None
        if not isinstance(value, str) or not value.isascii():
            raise KekUnavailable(f"Transit answered without a {name!r} field")
        return value


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")

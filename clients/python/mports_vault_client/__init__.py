"""Client SDK of the mPorts credential vault: Walmart Marketplace calls signed by the vault.

The whole public surface is two names (private modules hold the rest, as in httpx)::

    auth = WalmartAuth(vault_url=VAULT, vault_token=TOKEN, credential_id=CREDENTIAL_ID)
    with httpx.Client(base_url="https://marketplace.walmartapis.com", auth=auth) as walmart:
        orders = walmart.get("/v3/orders", params={"limit": 100}).json()
"""

from ._auth import WalmartAuth
from ._errors import VaultError

__all__ = ["VaultError", "WalmartAuth"]
__version__ = "0.1.0"

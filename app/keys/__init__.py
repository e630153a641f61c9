"""Key material: where sealed secrets are bound to their rows, opened and re-wrapped.

- ``binding``: the associated data that ties a sealed value to its credential, version and
  purpose, so a value copied to another row fails to open;
- ``keystore``: the one place that opens sealed secrets and tokens (signing keys are kept,
  bounded, in memory);
- ``snapshot``: what the hot path holds about a credential's current version;
- ``rewrap``: counting sealed values per KEK and moving them to the active one;
- ``providers``: building the configured KEK providers into an ``Envelope``.

It imports no domain package: the tables that hold sealed values hand their rows to
``rewrap`` through ``SealedValues``, so every package above can seal and open through here.
"""

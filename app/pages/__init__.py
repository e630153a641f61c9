"""The few HTML pages sellers see (App Store callback, hand-over link forms).

Sellers never get an API token: these pages are public, server-rendered by Jinja2 (autoescaped),
work without JavaScript, load nothing from outside the vault, and go out with a strict Content
Security Policy, ``no-store`` and ``no-referrer`` (a page's URL may carry a one-time token).
Render them only through :func:`app.pages.render.render_page`, which sets those headers.
"""

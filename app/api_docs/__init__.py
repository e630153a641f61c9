"""The operators' API documentation page (Swagger UI), served entirely by the vault.

A vault lives in a private network, and its docs page is where admins paste tokens: FastAPI's
default page loads Swagger UI from a public CDN, unpinned and without integrity checks, and is
blank without internet. Here Swagger UI comes from a pinned PyPI distribution
(``fastapi-swagger``, which repackages each Swagger UI release), its files are served from the
vault, the page's own start-up code is a file of the vault rather than an inline script, and the
page carries a Content Security Policy that allows nothing else. ReDoc is not served.
"""

from app.api_docs.router import install

__all__ = ["install"]

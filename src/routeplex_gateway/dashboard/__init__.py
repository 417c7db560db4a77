"""The usage dashboard at `/app`: server-rendered pages for account holders (overview,
usage, keys, models, privacy) and operators (accounts, usage across accounts, health),
signed in with an API key or an admin key. Same process and port as the API; no page loads
anything from another host.
"""

from .routes import dashboard_routes

__all__ = ["dashboard_routes"]

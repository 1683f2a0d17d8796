"""Analytics routes (admin only)."""

from core.errors import NotImplementedYet


class NotYetBuilt:
    def on_get(self, req, resp):
        raise NotImplementedYet(f"{req.path} is not implemented yet")

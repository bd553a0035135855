"""Who is looking at a page Kopilka shows inside the portal, and why one is refused."""

from __future__ import annotations

from dataclasses import dataclass

from kopilka.domain.errors import KopilkaError


class FrameRefused(KopilkaError):
    """A framed page's request that could not be proven (HTTP ``status``)."""

    code = "frame_refused"

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class AppUser:
    """A Bitrix24 user of a connected portal, as the portal itself vouched for them."""

    portal_id: int
    member_id: str
    user_id: int
    name: str
    is_admin: bool  # the portal's administrator: an owner of the loyalty program
    lang: str  # "ru" | "en"

    @property
    def actor(self) -> str:
        """How the ledger and the audit name this person."""
        return f"b24:user:{self.user_id} {self.name}".strip()


@dataclass(frozen=True, slots=True)
class Frame:
    """A proven request from a framed page: the user, the session it carries from now on, and
    the CRM record the page is about (``entity_id`` from ``PLACEMENT_OPTIONS``, or a form)."""

    user: AppUser
    session: str
    placement: str
    entity_id: int | None

"""Batched reads that survive a refused command (issue 15): one command the portal refuses
(a deleted deal's product rows, an argument this portal does not take) must not cost the answers
of the forty-nine beside it.

:func:`run_commands` returns what succeeded and, by key, the commands the portal refused on
their own. Failures of the portal as a whole still raise: no answer to the request, a full
bucket, dead credentials, a method it does not have — re-reading one deal would not help there.

:func:`read_split` runs commands over groups of deals and splits a refused group into one
command per deal, so that a refusal ends up naming the very deal it is about.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kopilka.bitrix24.client import Bitrix24Client, Commands
from kopilka.bitrix24.errors import (
    B24AuthError,
    B24BatchError,
    B24Error,
    B24MethodNotFound,
    B24OperationLimit,
    B24RateLimited,
    B24TransportError,
)

#: refusals that are about the portal, the credentials or the method, never one command
PORTAL_WIDE = (B24AuthError, B24MethodNotFound, B24OperationLimit, B24RateLimited)

#: the command over ``deals``, e.g. ``("crm.deal.list", {"filter": {"@ID": deals}})``; the
#: flag says it is one deal read alone after its group was refused
Build = Callable[[Sequence[int], bool], tuple[str, Mapping[str, Any]]]
#: a second look at a command's answer (its key, its deals, the answer): an error if the
#: answer is not to be believed
Check = Callable[[str, Sequence[int], Any], B24Error | None]


def own_failure(error: B24Error) -> bool:
    """Whether ``error`` is one command's own: a batch sub-command (no HTTP status of its own)
    refused for a reason that is not the portal's as a whole."""
    return (
        error.status is None
        and not isinstance(error, B24TransportError)
        and not isinstance(error, PORTAL_WIDE)
    )


async def run_commands(
    client: Bitrix24Client, commands: Commands
) -> tuple[dict[str, Any], dict[str, B24Error]]:
    """Results by key, and the commands refused on their own by key."""
    try:
        return await client.batch_many(commands), {}
    except B24BatchError as exc:
        if exc.not_run or not all(own_failure(e) for e in exc.errors.values()):
            raise
        return dict(exc.results), dict(exc.errors)


@dataclass
class Split:
    """What :func:`read_split` brought."""

    #: key -> (the deals its command covered, the result)
    results: dict[str, tuple[list[int], Any]] = field(default_factory=dict)
    #: key -> the deal whose command failed even alone, and the portal's reason
    failed: dict[str, tuple[int, B24Error]] = field(default_factory=dict)
    #: commands over several deals that failed (their deals were read one by one since)
    refused: dict[str, tuple[list[int], B24Error]] = field(default_factory=dict)

    def of(self, prefix: str, *, besides: bool = False) -> Split:
        """The part of the answer about the keys starting with ``prefix`` (``besides``: the
        part about the others)."""
        return Split(
            {k: v for k, v in self.results.items() if k.startswith(prefix) != besides},
            {k: v for k, v in self.failed.items() if k.startswith(prefix) != besides},
            {k: v for k, v in self.refused.items() if k.startswith(prefix) != besides},
        )


async def read_split(
    client: Bitrix24Client,
    groups: Mapping[str, tuple[Sequence[int], Build]],
    *,
    check: Check | None = None,
) -> Split:
    """Run each group's command; a group refused (or whose answer ``check`` rejects) is read
    again one command per deal (keys ``{key}_{deal}``: the group's key stays their prefix), in
    one more round of batches — also a group of one, when its command alone is another."""
    out = Split()
    pending = {key: (list(group), build, False) for key, (group, build) in groups.items()}
    while pending:
        results, errors = await run_commands(
            client, {key: build(group, alone) for key, (group, build, alone) in pending.items()}
        )
        again: dict[str, tuple[list[int], Build, bool]] = {}
        for key, (group, build, alone) in pending.items():
            error = errors.get(key)
            if error is None and check is not None:
                error = check(key, group, results[key])
            if error is None:
                out.results[key] = (group, results[key])
            elif alone or (len(group) == 1 and build(group, True) == build(group, False)):
                out.failed[key] = (group[0], error)
            else:
                out.refused[key] = (group, error)
                again.update({f"{key}_{deal}": ([deal], build, True) for deal in group})
        pending = again
    return out

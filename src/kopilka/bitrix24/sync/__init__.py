"""Deal sync (DESIGN D4, D5): make the ledger match what the portal says now, deal by deal,
reading and writing many deals per request.

An event, the sweep or a backfill only marks a deal dirty. The portal's sync drains the dirty set
in chunks: one batched read per chunk, then one transaction per deal that settles its ledger
(posting only the difference), records what was seen, queues the portal writes (contact fields,
the points discount on the product rows, a timeline comment per ledger change) and clears the
deal's hint if no newer hint arrived meanwhile. The writes then go out in full batches.

Kopilka's own writes cause events too. They end quietly: the re-read deal settles to the same
ledger, so nothing new is posted and nothing new is written.

One sync per portal runs at a time (a PostgreSQL advisory lock, whoever starts it: a worker, the
CLI or a test); ledger work per deal is serialised again by the ledger's own deal lock.

The package follows one deal down the floors and back once:

* ``hints`` — the dirty set: mark, count, gather a burst, claim a chunk; the deals parked
  (refused by the ledger or not shown by the portal: retried later and later, listed on the
  admin's customers page and counted in ``/metrics``);
* ``read`` — step 1: the chunk as the portal shows it (``Scope``: whose deals under which
  program; ``Chunk``: what was read);
* ``bulk`` / ``one`` — steps 2–3: settle the ledger for many plain deals in one transaction, or
  one deal in its own (``contact_offers`` for per-contact payments);
* ``seen`` — what is recorded of each deal (snapshots, shares, histories);
* ``writes`` — step 4: the portal writes queued in the outbox;
* ``drain`` — the run that strings them together; ``runs`` — its record.
"""

from kopilka.bitrix24.sync.drain import SYNC_LOCK, sync_portal
from kopilka.bitrix24.sync.hints import (
    Parked,
    dirty_count,
    mark_dirty,
    mark_open_deals_of,
    parked_deals,
)
from kopilka.bitrix24.sync.runs import SyncReport

__all__ = [
    "SYNC_LOCK",
    "Parked",
    "SyncReport",
    "dirty_count",
    "mark_dirty",
    "mark_open_deals_of",
    "parked_deals",
    "sync_portal",
]

"""What every table description shares: one metadata, the aware timestamp type, and the
largest id a BIGINT column holds."""

from __future__ import annotations

from sqlalchemy import DateTime, MetaData

metadata = MetaData()
TZ = DateTime(timezone=True)
#: The largest id a BIGINT column holds: ids from outside are checked against it.
BIGINT_MAX = 2**63 - 1

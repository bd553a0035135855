"""Issue 20: a restaurant on iiko earns and pays with Kopilka points (docs/iiko.md).

* ``iiko_links``: a portal's restaurant — the iiko organization, its API login (encrypted), the
  iikoCloud address the operator gave, whether closed orders become deals.
* ``iiko_customers``: a Kopilka customer's iikoCard guest and bonus wallet, the wallet balance
  Kopilka last saw and the transaction revision read so far (``transactions/by_revision``).
* ``iiko_pushes``: each write to a wallet (topup/chargeoff) recorded *before* it is sent, with
  the balance it expects before and after; iiko has no idempotency key, so a push left
  ``pending`` (a timeout) is settled by reading the wallet's transactions back (the push's id
  is in the comment) — it is never sent twice.
* ``iiko_till_events``: each transaction made at the till, posted once (its iiko id is the key);
  a spend Kopilka could not honour in full records its shortfall.
* ``iiko_orders``: each closed iiko order made a Bitrix24 deal, once (``orders_revision`` on the
  link: how far the orders were read).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None

SCHEMA = r"""
CREATE TABLE iiko_links (
    id               BIGSERIAL PRIMARY KEY,
    portal_id        BIGINT NOT NULL UNIQUE REFERENCES portals ON DELETE RESTRICT,
    organization_id  TEXT NOT NULL CHECK (organization_id <> '' AND length(organization_id) <= 64),
    api_login        TEXT NOT NULL,  -- encrypted (db/crypto.py)
    base_url         TEXT NOT NULL CHECK (base_url ~ '^https?://[^\s]+$'),
    orders_as_deals  BOOLEAN NOT NULL DEFAULT true,
    deal_category    BIGINT NOT NULL DEFAULT 0 CHECK (deal_category >= 0),
    deal_stage       TEXT NOT NULL DEFAULT 'WON' CHECK (deal_stage <> ''),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'paused')),
    orders_revision  BIGINT NOT NULL DEFAULT 0 CHECK (orders_revision >= 0),
    last_sync_at     TIMESTAMPTZ,
    last_error       TEXT CHECK (length(last_error) <= 1000),
    created_at       TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE iiko_customers (
    link_id             BIGINT NOT NULL REFERENCES iiko_links ON DELETE CASCADE,
    customer_id         BIGINT NOT NULL REFERENCES customers ON DELETE CASCADE,
    iiko_customer_id    TEXT NOT NULL CHECK (iiko_customer_id <> ''),
    wallet_id           TEXT NOT NULL CHECK (wallet_id <> ''),
    phone               TEXT NOT NULL CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    wallet_balance      BIGINT NOT NULL DEFAULT 0,  -- kopecks, as last read or written
    revision            BIGINT NOT NULL DEFAULT 0 CHECK (revision >= 0),
    last_transaction_id TEXT,
    synced_at           TIMESTAMPTZ,
    PRIMARY KEY (link_id, customer_id),
    UNIQUE (link_id, iiko_customer_id)
);

CREATE TABLE iiko_pushes (
    id           BIGSERIAL PRIMARY KEY,
    link_id      BIGINT NOT NULL,
    customer_id  BIGINT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('topup', 'chargeoff')),
    amount       BIGINT NOT NULL CHECK (amount > 0),
    before       BIGINT NOT NULL,
    after        BIGINT NOT NULL,
    status       TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'landed', 'lost')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    settled_at   TIMESTAMPTZ,
    FOREIGN KEY (link_id, customer_id) REFERENCES iiko_customers ON DELETE CASCADE,
    CONSTRAINT moves_by_amount CHECK (
        after - before = CASE kind WHEN 'topup' THEN amount ELSE -amount END),
    CONSTRAINT settled_when_done CHECK ((status = 'pending') = (settled_at IS NULL))
);
-- at most one push in flight per wallet: the next waits until this one is settled
CREATE UNIQUE INDEX iiko_pushes_one_pending ON iiko_pushes (link_id, customer_id)
    WHERE status = 'pending';

CREATE TABLE iiko_till_events (
    link_id         BIGINT NOT NULL REFERENCES iiko_links ON DELETE CASCADE,
    transaction_id  TEXT NOT NULL CHECK (transaction_id <> ''),
    customer_id     BIGINT NOT NULL,
    amount          BIGINT NOT NULL CHECK (amount <> 0),  -- kopecks: < 0 spent, > 0 returned
    posted          BIGINT NOT NULL CHECK (posted >= 0),
    shortfall       BIGINT NOT NULL DEFAULT 0 CHECK (shortfall >= 0),
    status          TEXT NOT NULL CHECK (status IN ('posted', 'short')),
    order_number    TEXT,
    happened_at     TIMESTAMPTZ,
    recorded_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    reported_at     TIMESTAMPTZ,
    PRIMARY KEY (link_id, transaction_id),
    CONSTRAINT whole_amount CHECK (posted + shortfall = abs(amount)),
    CONSTRAINT short_says_so CHECK ((status = 'short') = (shortfall > 0))
);
-- a closed iiko order and the Bitrix24 deal made of it (the deal's ORIGIN_ID is iiko:<order
-- id> as well, so a lost row does not make a second deal)
CREATE TABLE iiko_orders (
    link_id     BIGINT NOT NULL REFERENCES iiko_links ON DELETE CASCADE,
    order_id    TEXT NOT NULL CHECK (order_id <> ''),
    deal_id     BIGINT NOT NULL CHECK (deal_id > 0),
    contact_id  BIGINT NOT NULL CHECK (contact_id > 0),
    total       BIGINT NOT NULL CHECK (total >= 0),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (link_id, order_id)
);

CREATE INDEX iiko_till_events_short ON iiko_till_events (link_id) WHERE status = 'short';
"""

DOWNGRADE = r"""
DROP TABLE iiko_orders;
DROP TABLE iiko_till_events;
DROP TABLE iiko_pushes;
DROP TABLE iiko_customers;
DROP TABLE iiko_links;
"""


def upgrade() -> None:
    op.execute(SCHEMA)


def downgrade() -> None:
    op.execute(DOWNGRADE)

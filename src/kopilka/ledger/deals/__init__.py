"""Make a deal's ledger match what the program wants for it now (DESIGN D4).

The engine says what a deal *should* have produced (accruals per contact and rule, a payment with
points); this module reads what the ledger *has* for the deal and posts only the difference:

* an accrual whose amount changed, or that is no longer wanted, is reversed (and re-posted at the
  new amount); one that is right is left alone — so running it twice, or for a duplicated or
  late event, changes nothing;
* a payment with points is a hold while the deal is open, captured when it is won, released when
  it is lost; a changed amount releases the old hold and places a new one; a won deal that is
  reopened or lost gets its captured points back.

Everything for one deal happens under a transaction-scoped advisory lock on that deal, so two
workers never reconcile one deal at the same time; every entry carries ``reference`` = the deal.

The package: ``state`` (what the ledger holds for a deal), ``plan`` (the difference, pure),
``execute`` (posting it under the deal's lock, one deal or many plain ones at once), ``budget``
(a campaign's budget, read and taken under the campaign's lock).
"""

from kopilka.ledger.deals.budget import budgeted, spent_elsewhere, within_budgets
from kopilka.ledger.deals.execute import (
    DealToSettle,
    deal_reference,
    execute_plan,
    reconcile_deal,
    settle_deal,
    settle_plain_deals,
)
from kopilka.ledger.deals.plan import DealPlan, plan_deal
from kopilka.ledger.deals.state import (
    DealLedger,
    LiveAccrual,
    LiveCapture,
    Reconciled,
    lock_reference,
    lock_references,
    read_deal_ledger,
    read_deal_ledgers,
    spendable_for_deal,
)

__all__ = [
    "DealLedger",
    "DealPlan",
    "DealToSettle",
    "LiveAccrual",
    "LiveCapture",
    "Reconciled",
    "budgeted",
    "deal_reference",
    "execute_plan",
    "lock_reference",
    "lock_references",
    "plan_deal",
    "read_deal_ledger",
    "read_deal_ledgers",
    "reconcile_deal",
    "settle_deal",
    "settle_plain_deals",
    "spendable_for_deal",
    "spent_elsewhere",
    "within_budgets",
]

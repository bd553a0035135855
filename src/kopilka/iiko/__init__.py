"""A restaurant on iiko earns and pays with Kopilka points (issue 20, docs/iiko.md): Kopilka is
the book of record, each guest's iikoCard bonus wallet mirrors the available balance, and what
happens at the till comes back to the ledger."""

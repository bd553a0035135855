"""The cash desk's flow: calculate, hold, commit, cancel, refund — an order at a time.

Points of an order move in the ledger under the reference ``pos:<order_id>``; the ``pos_orders``
row says where the order stands. Every step runs in the caller's transaction with the customer's
account row locked first (so two cash desks spending one balance take turns and the second sees
what the first took), and every posting has a key derived from the order, so a step repeated
for the same order is a replay, not a second posting.

* **calculate** asks the program's engine what the order may pay with points (the program's
  ``redemption.max_share``, the balance) and what it will earn — nothing is written;
* **hold** records the order and reserves the points for ``ttl`` (the program's hold TTL);
* **commit** captures the hold and earns points on the part paid in money; committing a
  committed order answers the same (idempotent by order id);
* **cancel** releases the hold of an open order;
* **refund** (whole, or some lines) gives back the points the refunded part paid with and takes
  back what it earned: the payment is reversed, the kept part pays again, the accruals are
  reversed and the kept part earns again. Spent points put back come first, so a customer who
  spent the earned points is short only by the difference; when even that is not there the
  refund is refused with ``insufficient_points`` and nothing is written.

The feature's floors: ``endpoints`` (the ``/api/v1`` routes of the flow), ``pricing``
(calculate), ``service`` (hold, commit, cancel), ``refunds``, ``orders`` (the order rows and
their errors).
"""

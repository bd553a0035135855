"""A portal's program over time (issue 14): one lineage per portal, each accepted file a version,
each version in force from a stated moment; the version a won deal was priced under; what a
candidate program would change, and a deliberate re-pricing of the past.

``schemas`` (plain values and the pure choice of the version in force), ``queries`` (reading the
lineage), ``service`` (applying a version, the book of a version), ``diff``.
"""

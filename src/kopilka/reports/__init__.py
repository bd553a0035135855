"""The owner's numbers (issue 18, item 3): reports over the ledger, as pages, charts and files."""

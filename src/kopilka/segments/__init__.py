"""Segments for marketing mailings (issue 18, item 6): the program file's ``mailing`` segments
resolved to contacts and exported to a UniSender list or as CSV (docs/segments.md)."""

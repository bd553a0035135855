"""The customer's cabinet (R-19): server-rendered pages, login by phone with a one-time code."""

"""Admin basics: a login-protected list of customers and a page per customer."""

"""The portals Kopilka serves (tenants), as the operator sees and names them: resolving a
``--portal`` reference (never creating one by a typo), listing, showing, renaming and
disconnecting them."""

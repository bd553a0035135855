"""Importing this module registers every emulated REST method in ``registry.REGISTRY``."""

from b24emu import (  # noqa: F401
    apps,
    batch,
    catalog,
    crm_contacts,
    crm_deals,
    crm_items,
    lists_api,
    notify,
    offline,
    product_properties,
    productrows,
    userfields,
)

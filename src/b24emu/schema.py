"""Field descriptions of the legacy CRM entities (``crm.*.fields``, §7.1.1, §7.4.1, §7.6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

NUMERIC_TYPES = frozenset(
    {
        "integer",
        "double",
        "user",
        "crm_company",
        "crm_contact",
        "crm_lead",
        "crm_quote",
        "crm_category",
        "employee",
        "int",
        "money_number",
    }
)
DATE_TYPES = frozenset({"date", "datetime"})
MULTIFIELDS = ("PHONE", "EMAIL", "WEB", "IM", "LINK")


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    title: str
    ro: bool = False
    immutable: bool = False
    required: bool = False
    multiple: bool = False
    status_type: str | None = None
    deprecated: bool = False
    in_star: bool = True  # part of the ``*`` select mask
    readable: bool = True  # returned by get/list at all (CONTACT_IDS is write-only)

    def describe(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "type": self.type,
            "isRequired": self.required,
            "isReadOnly": self.ro,
            "isImmutable": self.immutable,
            "isMultiple": self.multiple,
            "isDynamic": False,
            "title": self.title,
        }
        if self.status_type:
            info["statusType"] = self.status_type
        if self.deprecated:
            info["isDeprecated"] = True
        return info


def _f(name: str, type_: str, title: str, **kw: Any) -> FieldDef:
    return FieldDef(name, type_, title, **kw)


def _utm() -> list[FieldDef]:
    return [
        _f("UTM_SOURCE", "string", "Ad system"),
        _f("UTM_MEDIUM", "string", "Traffic type"),
        _f("UTM_CAMPAIGN", "string", "Ad campaign UTM"),
        _f("UTM_CONTENT", "string", "Campaign contents"),
        _f("UTM_TERM", "string", "Campaign search term"),
    ]


DEAL_FIELDS: list[FieldDef] = [
    _f("ID", "integer", "ID", ro=True),
    _f("TITLE", "string", "Name"),
    _f("TYPE_ID", "crm_status", "Type", status_type="DEAL_TYPE"),
    _f("STAGE_ID", "crm_status", "Stage", status_type="DEAL_STAGE"),
    _f("PROBABILITY", "integer", "Probability"),
    _f("CURRENCY_ID", "crm_currency", "Currency"),
    _f("OPPORTUNITY", "double", "Amount"),
    _f("IS_MANUAL_OPPORTUNITY", "char", "IS_MANUAL_OPPORTUNITY"),
    _f("TAX_VALUE", "double", "Tax rate"),
    _f("LEAD_ID", "crm_lead", "Lead", ro=True),
    _f("COMPANY_ID", "crm_company", "Company"),
    _f("CONTACT_ID", "crm_contact", "Contact", deprecated=True),
    _f("CONTACT_IDS", "crm_contact", "Contacts", multiple=True, in_star=False, readable=False),
    _f("QUOTE_ID", "crm_quote", "Quote", ro=True),
    _f("BEGINDATE", "date", "Start date"),
    _f("CLOSEDATE", "date", "End date"),
    _f("ASSIGNED_BY_ID", "user", "Responsible person"),
    _f("CREATED_BY_ID", "user", "Created by", ro=True),
    _f("MODIFY_BY_ID", "user", "Modified by", ro=True),
    _f("DATE_CREATE", "datetime", "Created on", ro=True),
    _f("DATE_MODIFY", "datetime", "Modified on", ro=True),
    _f("OPENED", "char", "Available to everyone"),
    _f("CLOSED", "char", "Closed"),
    _f("COMMENTS", "string", "Comment"),
    _f("ADDITIONAL_INFO", "string", "Additional information"),
    _f("LOCATION_ID", "location", "Location"),
    _f("CATEGORY_ID", "crm_category", "Pipeline", immutable=True),
    _f("STAGE_SEMANTIC_ID", "string", "Stage group", ro=True),
    _f("IS_NEW", "char", "New deal", ro=True),
    _f("IS_RECURRING", "char", "Recurring deal"),
    _f("IS_RETURN_CUSTOMER", "char", "Repeat deal"),
    _f("IS_REPEATED_APPROACH", "char", "Repeat inquiry"),
    _f("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Source information"),
    _f("ORIGINATOR_ID", "string", "External source"),
    _f("ORIGIN_ID", "string", "Item ID in data source"),
    _f("MOVED_BY_ID", "user", "Moved by", ro=True),
    _f("MOVED_TIME", "datetime", "Moved on", ro=True),
    _f("LAST_ACTIVITY_TIME", "datetime", "Last activity", ro=True),
    *_utm(),
    _f("LAST_ACTIVITY_BY", "user", "Last activity by", ro=True),
]

_MULTI = [
    _f("PHONE", "crm_multifield", "Phone", multiple=True, in_star=False),
    _f("EMAIL", "crm_multifield", "E-mail", multiple=True, in_star=False),
    _f("WEB", "crm_multifield", "Website", multiple=True, in_star=False),
    _f("IM", "crm_multifield", "Messenger", multiple=True, in_star=False),
    _f("LINK", "crm_multifield", "LINK", multiple=True, in_star=False),
]

CONTACT_FIELDS: list[FieldDef] = [
    _f("ID", "integer", "ID", ro=True),
    _f("POST", "string", "Position"),
    _f("COMMENTS", "string", "Comment"),
    _f("HONORIFIC", "crm_status", "Salutation", status_type="HONORIFIC"),
    _f("NAME", "string", "First name", required=True),
    _f("SECOND_NAME", "string", "Second name", required=True),
    _f("LAST_NAME", "string", "Last name", required=True),
    _f("PHOTO", "file", "Photo"),
    _f("LEAD_ID", "crm_lead", "Lead", ro=True),
    _f("TYPE_ID", "crm_status", "Contact type", status_type="CONTACT_TYPE"),
    _f("SOURCE_ID", "crm_status", "Source", status_type="SOURCE"),
    _f("SOURCE_DESCRIPTION", "string", "Source information"),
    _f("COMPANY_ID", "crm_company", "Company", deprecated=True),
    _f("COMPANY_IDS", "crm_company", "COMPANY_IDS", multiple=True, in_star=False, readable=False),
    _f("BIRTHDATE", "date", "Date of birth"),
    _f("EXPORT", "char", "Included in export"),
    _f("HAS_PHONE", "char", "Has phone", ro=True),
    _f("HAS_EMAIL", "char", "Has e-mail", ro=True),
    _f("HAS_IMOL", "char", "Has Open Channel", ro=True),
    _f("DATE_CREATE", "datetime", "Created on", ro=True),
    _f("DATE_MODIFY", "datetime", "Modified on", ro=True),
    _f("ASSIGNED_BY_ID", "user", "Responsible person"),
    _f("CREATED_BY_ID", "user", "Created by", ro=True),
    _f("MODIFY_BY_ID", "user", "Modified by", ro=True),
    _f("OPENED", "char", "Available to everyone"),
    _f("ORIGINATOR_ID", "string", "External source"),
    _f("ORIGIN_ID", "string", "Item ID in data source"),
    _f("ORIGIN_VERSION", "string", "Original version"),
    _f("ADDRESS", "string", "Street address"),
    _f("ADDRESS_CITY", "string", "City"),
    *_utm(),
    _f("LAST_ACTIVITY_TIME", "datetime", "Last activity", ro=True),
    _f("LAST_ACTIVITY_BY", "user", "Last activity by", ro=True),
    *_MULTI,
]

COMPANY_FIELDS: list[FieldDef] = [
    _f("ID", "integer", "ID", ro=True),
    _f("TITLE", "string", "Company name", required=True),
    _f("COMPANY_TYPE", "crm_status", "Company type", status_type="COMPANY_TYPE"),
    _f("LOGO", "file", "Logo"),
    _f("LEAD_ID", "crm_lead", "Lead", ro=True),
    _f("HAS_PHONE", "char", "Has phone", ro=True),
    _f("HAS_EMAIL", "char", "Has e-mail", ro=True),
    _f("HAS_IMOL", "char", "Has Open Channel", ro=True),
    _f("ASSIGNED_BY_ID", "user", "Responsible person"),
    _f("CREATED_BY_ID", "user", "Created by", ro=True),
    _f("MODIFY_BY_ID", "user", "Modified by", ro=True),
    _f("BANKING_DETAILS", "string", "Payment details"),
    _f("INDUSTRY", "crm_status", "Industry", status_type="INDUSTRY"),
    _f("REVENUE", "double", "Annual revenue"),
    _f("CURRENCY_ID", "crm_currency", "Currency"),
    _f("EMPLOYEES", "crm_status", "Employees", status_type="EMPLOYEES"),
    _f("COMMENTS", "string", "Comment"),
    _f("DATE_CREATE", "datetime", "Created on", ro=True),
    _f("DATE_MODIFY", "datetime", "Modified on", ro=True),
    _f("OPENED", "char", "Available to everyone"),
    _f("IS_MY_COMPANY", "char", "My Company"),
    _f("ORIGINATOR_ID", "string", "External source"),
    _f("ORIGIN_ID", "string", "Item ID in data source"),
    _f("ADDRESS", "string", "Street address"),
    _f("CONTACT_ID", "crm_contact", "Contact", multiple=True, in_star=False, readable=False),
    *_utm(),
    _f("LAST_ACTIVITY_TIME", "datetime", "Last activity", ro=True),
    _f("LAST_ACTIVITY_BY", "user", "Last activity by", ro=True),
    *_MULTI,
]

PRODUCT_FIELDS: list[FieldDef] = [
    _f("ID", "integer", "ID", ro=True),
    _f("CATALOG_ID", "integer", "Catalog"),
    _f("PRICE", "double", "Price"),
    _f("CURRENCY_ID", "crm_currency", "Currency"),
    _f("NAME", "string", "Name", required=True),
    _f("CODE", "string", "Symbolic code"),
    _f("DESCRIPTION", "string", "Description"),
    _f("DESCRIPTION_TYPE", "string", "Description type"),
    _f("ACTIVE", "char", "Active"),
    _f("SECTION_ID", "integer", "Section"),
    _f("SORT", "integer", "Sort"),
    _f("VAT_ID", "integer", "VAT rate"),
    _f("VAT_INCLUDED", "char", "VAT included"),
    _f("MEASURE", "integer", "Unit of measurement"),
    _f("XML_ID", "string", "External ID"),
    _f("PREVIEW_PICTURE", "file", "Preview image"),
    _f("DETAIL_PICTURE", "file", "Full image"),
    _f("DATE_CREATE", "datetime", "Created on", ro=True),
    _f("TIMESTAMP_X", "datetime", "Modified on", ro=True),
    _f("MODIFIED_BY", "user", "Modified by", ro=True),
    _f("CREATED_BY", "user", "Created by", ro=True),
]


def by_name(defs: list[FieldDef]) -> dict[str, FieldDef]:
    return {d.name: d for d in defs}

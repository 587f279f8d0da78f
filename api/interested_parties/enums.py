"""The kinds of an interested party (clause 4.2)."""

from __future__ import annotations

from enum import StrEnum


class PartyType(StrEnum):
    GOVERNMENT = "government"  # the park's administrative committee, local government
    REGULATOR = "regulator"  # ecology and environment, development and reform bureaus
    ENTERPRISE = "enterprise"  # enterprises in the park
    EMPLOYEE = "employee"
    COMMUNITY = "community"  # residents near the park
    INVESTOR = "investor"
    CUSTOMER = "customer"
    SUPPLIER = "supplier"  # energy suppliers, service providers
    FINANCIAL_INSTITUTION = "financial_institution"  # green-finance lenders
    OTHER = "other"

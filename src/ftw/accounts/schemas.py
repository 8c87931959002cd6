"""API shapes of accounts and sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import phonenumbers
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator

from ftw.accounts.models import Role

SignupRole = Literal["homeowner", "contractor", "operator"]


def e164(value: str | None) -> str | None:
    """A phone number as E.164 (``+12125550100``); US numbers may omit the country code."""
    if value is None:
        return None
    try:
        number = phonenumbers.parse(value, "US")
    except phonenumbers.NumberParseException as exc:
        raise ValueError("not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


Phone = Annotated[str | None, Field(default=None, max_length=32), AfterValidator(e164)]


class Signup(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)
    full_name: str = Field(min_length=2, max_length=120)
    role: SignupRole = "homeowner"
    zip: str | None = Field(default=None, pattern=r"^\d{5}$")
    phone: Phone = None
    referral_code: str | None = Field(default=None, max_length=12)

    @field_validator("full_name")
    @classmethod
    def strip_name(cls, value: str) -> str:
        return value.strip()


class Login(BaseModel):
    email: EmailStr
    password: str = Field(min_length=1, max_length=200)


class Accepted(BaseModel):
    """An answer that says only that the request was taken; what follows goes by e-mail."""

    detail: str


class PasswordForgotten(BaseModel):
    email: EmailStr


class PasswordReset(BaseModel):
    token: str = Field(min_length=10, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class EmailConfirmation(BaseModel):
    token: str = Field(min_length=10, max_length=200)


class PhoneCode(BaseModel):
    code: str = Field(pattern=r"^\d{6}$")


class Deactivation(BaseModel):
    password: str = Field(min_length=1, max_length=200)


class RefreshRequest(BaseModel):
    refresh_token: str = Field(min_length=10, max_length=200)


class LogoutRequest(RefreshRequest):
    everywhere: bool = False


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 scheme name
    expires_in: int = Field(description="Seconds until the access token expires")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    role: Role
    is_pro: bool
    is_available: bool
    zip: str | None
    territory_fips: str | None
    referral_code: str
    created_at: datetime
    phone: str | None
    email_verified_at: datetime | None
    phone_verified_at: datetime | None
    notify_email: bool
    notify_sms: bool


class OperatorApplicant(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    email: str
    full_name: str
    zip: str | None
    territory_fips: str | None
    created_at: datetime
    operator_approved_at: datetime | None


class OperatorApplicantPage(BaseModel):
    items: list[OperatorApplicant]
    next_cursor: str | None


class ProfileUpdate(BaseModel):
    full_name: str | None = Field(default=None, min_length=2, max_length=120)
    zip: str | None = Field(default=None, pattern=r"^\d{5}$")
    phone: Phone = None
    is_available: bool | None = None
    notify_email: bool | None = None  # False: no notification e-mails (account e-mails still go)
    notify_sms: bool | None = None

    @field_validator("full_name", "is_available", "notify_email", "notify_sms")
    @classmethod
    def not_cleared(cls, value: object) -> object:
        """Omitted keeps the value; an explicit null cannot clear a required column."""
        if value is None:
            raise ValueError("may be omitted, not null")
        return value

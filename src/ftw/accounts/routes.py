"""HTTP layer of accounts: sign-up, sessions, passwords, and the caller's own profile.

The account routes declare ``auth_limit``: they are limited by client address and by the
e-mail they target, never by the token a request carries.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from twilio.request_validator import RequestValidator

from ftw.accounts import service
from ftw.accounts.auth import Admin, Anyone, SignedIn
from ftw.accounts.schemas import (
    Accepted,
    Deactivation,
    EmailConfirmation,
    Login,
    LogoutRequest,
    OperatorApplicant,
    OperatorApplicantPage,
    PasswordChange,
    PasswordForgotten,
    PasswordReset,
    PhoneCode,
    ProfileUpdate,
    RefreshRequest,
    Signup,
    TokenPair,
    UserOut,
    e164,
)
from ftw.core import switches
from ftw.core.deps import OwnReadSessionDep, SessionDep, SettingsDep
from ftw.core.errors import Forbidden
from ftw.core.pagination import PageDep
from ftw.core.ratelimit import auth_limit
from ftw.core.routing import LeanRoute
from ftw.core.switches import Name
from ftw.core.validation import Id

router = APIRouter(prefix="/api/v1", tags=["accounts"], route_class=LeanRoute)

SIGNUP_ACCEPTED = Accepted(
    detail="Check your inbox: we sent a link to confirm the address, or a note if it already has an account."
)
RESET_ACCEPTED = Accepted(detail="If the address has an account, a reset link is on its way.")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def e164_or_none(value: str) -> str | None:
    try:
        return e164(value)
    except ValueError:
        return None


@router.post(
    "/auth/signup",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[switches.required(Name.SIGNUPS)],
)
@auth_limit("signup")
async def signup(data: Signup, session: SessionDep, settings: SettingsDep, _: Anyone) -> Accepted:
    """The same answer whether or not the address has an account (the e-mail says which)."""
    await service.signup(session=session, settings=settings, data=data)
    return SIGNUP_ACCEPTED


@router.post("/auth/login")
@auth_limit("login")
async def login(data: Login, session: SessionDep, settings: SettingsDep, _: Anyone) -> TokenPair:
    return await service.login(session=session, settings=settings, email=data.email, password=data.password)


@router.post("/auth/refresh")
@auth_limit("refresh")
async def refresh(data: RefreshRequest, session: SessionDep, settings: SettingsDep, _: Anyone) -> TokenPair:
    return await service.refresh(session=session, settings=settings, token=data.refresh_token)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(data: LogoutRequest, session: SessionDep, _: Anyone) -> None:
    await service.logout(session=session, token=data.refresh_token, everywhere=data.everywhere)


@router.post("/auth/password/forgot", status_code=status.HTTP_202_ACCEPTED)
@auth_limit("password_reset")
async def forgot_password(data: PasswordForgotten, session: SessionDep, _: Anyone) -> Accepted:
    await service.request_password_reset(session=session, email=data.email)
    return RESET_ACCEPTED


@router.post("/auth/password/reset", status_code=status.HTTP_204_NO_CONTENT)
@auth_limit("password_reset")
async def reset_password(data: PasswordReset, session: SessionDep, settings: SettingsDep, _: Anyone) -> None:
    await service.reset_password(
        session=session, settings=settings, token=data.token, new_password=data.new_password
    )


@router.post("/auth/email/confirm", status_code=status.HTTP_204_NO_CONTENT)
@auth_limit("email_confirm")
async def confirm_email(data: EmailConfirmation, session: SessionDep, _: Anyone) -> None:
    await service.confirm_email(session=session, token=data.token)


@router.post("/me/phone/code", status_code=status.HTTP_202_ACCEPTED)
@auth_limit("phone")
async def phone_code(principal: SignedIn, session: SessionDep) -> Accepted:
    """Text a 6-digit code to the profile's phone: nothing else is texted until it is entered."""
    await service.request_phone_code(session=session, user_id=principal.user_id)
    return Accepted(detail="A code is on its way by text message.")


@router.post("/me/phone/verify", status_code=status.HTTP_204_NO_CONTENT)
@auth_limit("phone")
async def verify_phone(
    data: PhoneCode, principal: SignedIn, session: SessionDep, settings: SettingsDep
) -> None:
    await service.verify_phone(session=session, settings=settings, user_id=principal.user_id, code=data.code)


@router.post("/sms/inbound", response_class=Response, include_in_schema=False)
async def sms_inbound(request: Request, session: SessionDep, settings: SettingsDep, _: Anyone) -> Response:
    """Twilio's inbound message webhook: STOP opts the sender out of every text. Only a
    request signed with our Twilio auth token (X-Twilio-Signature) is believed."""
    form = {key: str(value) for key, value in (await request.form()).items()}
    token = settings.sms.twilio_auth_token
    signature = request.headers.get("x-twilio-signature", "")
    url = settings.public_url.rstrip("/") + request.url.path
    if token is None or not RequestValidator(token.get_secret_value()).validate(url, form, signature):
        raise Forbidden("Not signed by Twilio")
    sender = e164_or_none(form.get("From", ""))
    if sender is not None:
        await service.sms_reply(session=session, phone=sender, body=form.get("Body", ""))
    return Response(EMPTY_TWIML, media_type="application/xml")


@router.get("/admin/operators")
async def operator_applicants(
    session: SessionDep, _: Admin, page: PageDep, pending: bool = True
) -> OperatorApplicantPage:
    """Operator applications awaiting an admin (``pending=false``: the approved ones), oldest first."""
    items, next_cursor = await service.operator_applicants(session=session, pending=pending, page=page)
    return OperatorApplicantPage(items=items, next_cursor=next_cursor)


@router.post("/admin/operators/{user_id}/approve")
async def approve_operator(user_id: Id, session: SessionDep, principal: Admin) -> OperatorApplicant:
    """Vet an operator: it may then claim a county. Audit-logged."""
    user = await service.approve_operator(session=session, admin_id=principal.user_id, user_id=user_id)
    return OperatorApplicant.model_validate(user)


@router.post("/admin/operators/{user_id}/refuse")
async def refuse_operator(user_id: Id, session: SessionDep, principal: Admin) -> OperatorApplicant:
    """Turn an application down: the applicant's account is closed. Audit-logged."""
    user = await service.refuse_operator(session=session, admin_id=principal.user_id, user_id=user_id)
    return OperatorApplicant.model_validate(user)


@router.get("/me")
async def me(principal: SignedIn, session: OwnReadSessionDep) -> UserOut:
    return await service.profile(session=session, user_id=principal.user_id)


@router.patch("/me")
async def update_me(data: ProfileUpdate, principal: SignedIn, session: SessionDep) -> UserOut:
    user = await service.update_profile(session=session, user_id=principal.user_id, data=data)
    await session.refresh(user)
    return UserOut.model_validate(user)


@router.post("/me/password", status_code=status.HTTP_204_NO_CONTENT)
@auth_limit("login")
async def change_password(
    data: PasswordChange, principal: SignedIn, session: SessionDep, settings: SettingsDep
) -> None:
    """Every session, this one's refresh token included, is signed out: sign in again."""
    await service.change_password(
        session=session,
        settings=settings,
        user_id=principal.user_id,
        current_password=data.current_password,
        new_password=data.new_password,
    )


@router.post("/me/deactivate", status_code=status.HTTP_204_NO_CONTENT)
@auth_limit("login")
async def deactivate(data: Deactivation, principal: SignedIn, session: SessionDep) -> None:
    await service.deactivate(session=session, user_id=principal.user_id, password=data.password)

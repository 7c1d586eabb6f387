"""Logins and token refreshes."""
from marshmallow import ValidationError as MarshmallowError, validate

from .base import NO_SURROGATES, TEXT_RULE, Strict, check_text, string


def _encodable(value):
    # A password may hold any character a keyboard can type; a lone surrogate is not one (no UTF-8).
    if any("\ud800" <= char <= "\udfff" for char in value):
        raise MarshmallowError("must not contain lone surrogates")


class TokenIn(Strict):
    """Body of the socket event refresh_token."""

    token = string(required=True, validate=validate.Length(min=1, max=8192, error="must be 1-8192 characters"))


class LoginIn(Strict):
    """Body of POST /auth/token."""

    email = string(required=True, validate=[
        validate.Length(min=3, max=254, error="must be 3-254 characters"), check_text], metadata=TEXT_RULE)
    password = string(required=True, validate=[
        validate.Length(min=1, max=1024, error="must be 1-1024 characters"), _encodable],
        metadata=NO_SURROGATES)

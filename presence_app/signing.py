"""Standard Webhooks signatures, made by the spec's own library: secrets and the webhook-signature header."""
import base64
import secrets

from standardwebhooks import Webhook

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret():
    """A new endpoint secret: whsec_ and 32 random bytes in base64, as Standard Webhooks writes them."""
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(message_id, at, body, keys):
    """The webhook-signature header of `body` sent at `at` (a datetime): one v1 signature per secret in `keys`."""
    return " ".join(Webhook(key).sign(message_id, at, body) for key in keys)

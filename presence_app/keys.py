"""Room and cache names: built from their parts by one injective encoding, so tenants never share one."""
from urllib.parse import quote


def key(*parts):
    """Join parts with ':' after percent-encoding each, so no part can pass for two."""
    # quote() with safe="" encodes ':' and '%' themselves: ("a", "b:c") and ("a:b", "c") differ.
    return ":".join(quote(str(part), safe="") for part in parts)

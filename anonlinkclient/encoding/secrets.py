"""Reading the hashing secret without putting it on the command line.

Besides a literal secret, the ``SECRET`` argument accepts the forms openssl uses
for pass phrases:

* ``env:NAME``: the value of environment variable ``NAME``;
* ``file:PATH``: the first line of the file ``PATH`` (without its line ending).

The secret itself never appears in an error message.
"""

import os
from typing import Union

from anonlinkclient.errors import SecretError


def resolve_secret(argument: str) -> str:
    """Return the secret that ``argument`` names (see the module docstring).

    :param argument: a literal secret, ``env:NAME`` or ``file:PATH``.
    :raises SecretError: if the variable is unset, the file unreadable, or the
        secret empty.
    """
    if argument.startswith("env:"):
        name = argument[len("env:") :]
        value = os.environ.get(name)
        if value is None:
            raise SecretError(f"secret: environment variable {name} is not set")
        secret = value
    elif argument.startswith("file:"):
        path = argument[len("file:") :]
        try:
            with open(path, encoding="utf-8") as handle:
                secret = handle.readline().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            reason = exc.strerror if isinstance(exc, OSError) else "not valid UTF-8"
            raise SecretError(f"secret: cannot read secret file {path} ({reason})") from None
    else:
        secret = argument
    if not secret:
        raise SecretError("secret: the secret is empty")
    return secret


#: HKDF salt and info of the secret check value. No linkage schema's KDF uses them
#: (a schema names its own salt and info), so the check value is independent of every
#: key a CLK is made with.
SECRET_CHECK_SALT = b"anonlink-client secret check value"
SECRET_CHECK_INFO = b"anonlink-client/secret-check-value/v1"
#: Hex digits of the secret check value (16 bits).
SECRET_CHECK_DIGITS = 4


def secret_check_value(secret: Union[str, bytes]) -> str:
    """A short check value of a secret: two parties with the same secret get the same value.

    It is the first :data:`SECRET_CHECK_DIGITS` hex digits of a key derived from
    the secret by HKDF-SHA256 (clkhash's :func:`~clkhash.key_derivation.hkdf`)
    with a salt and info of its own, the way key check values are used in payment
    systems. Being 16 bits, it tells two parties whether their secrets agree (a
    chance of 1 in 65,536 that different secrets look the same), but tells someone
    guessing secrets almost nothing: of every 65,536 wrong guesses, about one
    matches. It reveals at most 16 bits about the secret and nothing about the
    keys CLKs are made with.

    :param secret: the secret, as text (UTF-8) or bytes.
    """
    from clkhash.key_derivation import hkdf

    secret_bytes = secret.encode("utf-8") if isinstance(secret, str) else secret
    (key,) = hkdf(secret_bytes, 1, "SHA256", salt=SECRET_CHECK_SALT, info=SECRET_CHECK_INFO, key_size=32)
    return key.hex()[:SECRET_CHECK_DIGITS]

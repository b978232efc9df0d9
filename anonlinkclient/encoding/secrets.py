"""Reading the hashing secret without putting it on the command line.

Besides a literal secret, the ``SECRET`` argument accepts the forms openssl uses
for pass phrases:

* ``env:NAME``: the value of environment variable ``NAME``;
* ``file:PATH``: the first line of the file ``PATH`` (without its line ending).

The secret itself never appears in an error message.
"""

import os

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

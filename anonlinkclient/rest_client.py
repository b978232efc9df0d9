"""The manual's import path of the Entity Service client: :mod:`anonlinkclient.service.rest_client`.

``from anonlinkclient.rest_client import RestClient, ServiceError, ...`` keeps working
as in 0.1.5; the implementation lives in :mod:`anonlinkclient.service.rest_client`.
"""

from anonlinkclient.service.rest_client import *  # noqa: F401,F403
from anonlinkclient.service.rest_client import __all__  # noqa: F401

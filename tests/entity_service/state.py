"""The in-memory state of the test Entity Service: projects, parties, uploads and runs.

Plain dataclasses, guarded by the service's lock (see :mod:`.api`). Tests read
them through the inspection helpers of :class:`tests.entity_service.server.EntityService`.
"""

import datetime
import secrets
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Union

BlockId = Union[str, int]

#: The three stages of a run, as the real service describes them.
STAGE_DESCRIPTIONS = {1: "waiting for CLKs", 2: "compute similarity scores", 3: "compute output"}
RUN_STAGES = 3

#: Block of every record of a direct upload made without blocks (``clks``, or ``encodings`` inline).
DIRECT_DEFAULT_BLOCK: BlockId = "1"
#: Block of every record of an object-store upload made without blocks. It is
#: deliberately *not* equal to :data:`DIRECT_DEFAULT_BLOCK` (the int 1, not the
#: string "1"): the real v1.15 service gives the two paths different default
#: blocks, so a run mixing them compares nothing.
OBJECT_STORE_DEFAULT_BLOCK: BlockId = 1


def new_token() -> str:
    """A 48 character hex string, the shape of every id and token of the real service."""
    return secrets.token_hex(24)


def utc_now() -> str:
    """The current time as ISO 8601 with a UTC offset (a valid OpenAPI ``date-time``)."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


@dataclass
class Upload:
    """One party's ingested data.

    :ivar clks: the raw bytes of each CLK, in upload order.
    :ivar blocks: the block ids of each record (``[]``: in no block, never compared).
    :ivar source: ``"clks"``, ``"clknblocks"``, ``"encodings"`` (inline), ``"binaryclks"`` or ``"object-store"``.
    :ivar objects: for object-store uploads, what was read: ``{"encodings": {"bucket",
        "path", "metadata", "size"}, "blocks": {...} or None, "credentials": {...} or None}``.
    """

    clks: List[bytes]
    blocks: List[List[BlockId]]
    source: str
    receipt_token: str
    objects: Optional[Dict[str, Any]] = None
    time_added: str = field(default_factory=utc_now)

    @property
    def count(self) -> int:
        """Number of CLKs."""
        return len(self.clks)

    @property
    def encoding_size(self) -> Optional[int]:
        """Bytes per CLK (``None`` for an empty upload)."""
        return len(self.clks[0]) if self.clks else None


@dataclass
class Party:
    """A data provider of a project: its update token, issued object-store access, upload."""

    index: int
    update_token: str
    #: The data provider id (the real service's database id); object-store paths are ``<project_id>/<dp_id>``.
    dp_id: int
    upload: Optional[Upload] = None
    #: What authorize-external-upload returned to this party (latest call), if it was called.
    object_store_access: Optional[Dict[str, Any]] = None
    #: All AccessKeyIds ever issued to this party.
    issued_access_keys: Dict[str, str] = field(default_factory=dict)


@dataclass
class Run:
    """A linkage run and its progress.

    ``state`` goes created -> queued -> running -> completed (or error);
    ``stage`` is 1, 2 or 3 (see :data:`STAGE_DESCRIPTIONS`).
    """

    run_id: str
    threshold: float
    name: str = ""
    notes: str = ""
    time_added: str = field(default_factory=utc_now)
    state: str = "created"
    stage: int = 1
    progress: Optional[Dict[str, Any]] = None
    time_started: Optional[str] = None
    time_completed: Optional[str] = None
    message: Optional[str] = None
    detail: Optional[str] = None
    #: Record pairs compared (``total_number_comparisons`` of a completed run).
    comparisons: Optional[int] = None
    #: ``{"groups": ...}``, ``{"similarity_scores": ...}``, or for permutations
    #: ``{"mask": [...], "permutations": [[...], [...]], "rows": n}``.
    result: Optional[Dict[str, Any]] = None
    deleted: bool = False


@dataclass
class Project:
    """A linkage project as created by ``POST /projects``."""

    project_id: str
    result_token: str
    schema: Dict[str, Any]
    result_type: str
    number_parties: int
    uses_blocking: bool
    name: str
    notes: str
    parties: List[Party]
    time_added: str = field(default_factory=utc_now)
    runs: Dict[str, Run] = field(default_factory=dict)
    deleted: bool = False
    #: Set once every party uploaded and their encodings turned out unusable together
    #: (``error: true`` in the description; its runs are in state ``error``).
    error: bool = False

    @property
    def update_tokens(self) -> List[str]:
        """The parties' upload tokens, in party order."""
        return [party.update_token for party in self.parties]

    @property
    def parties_contributed(self) -> int:
        """How many parties have uploaded."""
        return sum(1 for party in self.parties if party.upload is not None)

    @property
    def all_uploaded(self) -> bool:
        """True once every party has uploaded."""
        return self.parties_contributed == self.number_parties

    def party_by_update_token(self, token: Optional[str]) -> Optional[Party]:
        """The party whose upload token this is, if any."""
        return next((p for p in self.parties if token and p.update_token == token), None)

    def party_by_receipt_token(self, token: Optional[str]) -> Optional[Party]:
        """The party whose upload receipt token this is, if any."""
        return next((p for p in self.parties if token and p.upload and p.upload.receipt_token == token), None)

    def encoding_sizes_agree(self) -> bool:
        """Whether every upload has the encoding size the real service expects: the linkage
        schema's (``clkConfig.l``), or else the first party's."""
        sizes = [p.upload.encoding_size for p in self.parties if p.upload is not None]
        expected = self.schema_encoding_size() or (sizes[0] if sizes else None)
        return all(size == expected for size in sizes)

    def schema_encoding_size(self) -> Optional[int]:
        """Bytes per CLK the linkage schema declares (``clkConfig.l`` bits / 8), if it does."""
        config = self.schema.get("clkConfig") if isinstance(self.schema, dict) else None
        bits = config.get("l") if isinstance(config, dict) else None
        return bits // 8 if isinstance(bits, int) and not isinstance(bits, bool) and bits > 0 else None

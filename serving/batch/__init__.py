"""Batch screening of manifests: streamed in chunks, bad rows quarantined, resumable, Dask.

``screen(BatchConfig(...))`` runs ``parcelscreen screen MANIFEST --out DIR``. It imports the
scoring core (``screening``) and the contracts only; see ``_score`` and ``_in_run`` for how
entity history works in a batch (a snapshot of the store as of the run's start, plus the run's
own parcels counted towards each other as the service would have counted them).
"""

from ._errors import BatchError, HaltedError, ManifestError, ReconciliationError, ResumeError
from ._finalise import Capacity, inspection_list
from ._keys import EngineSpec, engine_for, use_exchange
from ._read import QUARANTINE_SCHEMA, Chunk, iter_chunks
from ._run import DEFAULT_CHUNK_ROWS, BatchConfig, screen
from ._score import RESULT_SCHEMA, score_chunk

__all__ = [
    "BatchConfig",
    "BatchError",
    "Capacity",
    "Chunk",
    "DEFAULT_CHUNK_ROWS",
    "EngineSpec",
    "HaltedError",
    "ManifestError",
    "QUARANTINE_SCHEMA",
    "RESULT_SCHEMA",
    "ReconciliationError",
    "ResumeError",
    "engine_for",
    "inspection_list",
    "iter_chunks",
    "score_chunk",
    "screen",
    "use_exchange",
]

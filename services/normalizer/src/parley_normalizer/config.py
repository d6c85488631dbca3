"""Normalizer settings, from the environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from parley_platform.settings import ServiceSettings


class NormalizerSettings(ServiceSettings):
    service_name: str = "normalizer"
    normalizer_app_id: str = "parley-normalizer"
    normalizer_web_port: int = Field(default=6066, ge=1, le=65535)
    normalizer_web_bind: str = "127.0.0.1"
    retention_default_days: int = Field(
        default=365,
        gt=0,
        description="How long discussions of families without their own retention rule "
        "are kept after their last activity (Allegro has its own: 30 / 14 days)",
    )
    retention_sweep_interval_seconds: float = Field(
        default=3600.0, gt=0, description="How often each worker deletes expired discussions"
    )
    pending_sweep_interval_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How often each worker publishes events left pending by a crash",
    )
    pending_sweep_after_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How old a pending mark must be before the sweeper takes it over "
        "(longer than a record takes to process, so it never races the stream)",
    )
    normalizer_batch_max: int = Field(
        default=200,
        ge=1,
        le=10_000,
        description="Most records the normalizer takes into one batch (one set of bulk writes)",
    )
    normalizer_batch_wait_ms: float = Field(
        default=100.0,
        ge=0,
        le=60_000,
        description="Longest the normalizer waits for a batch to fill before processing "
        "what it has: the latency a lone record pays at most",
    )
    normalizer_by_id_reads: Literal["each", "in"] = Field(
        default="each",
        description="How a batch's documents are read by _id: one concurrent find_one per "
        "id ('each', pushed down by FerretDB) or one $in query ('in', one round trip, but "
        "a collection scan on FerretDB)",
    )

    normalizer_write_chunk: int = Field(
        default=32,
        ge=1,
        le=100_000,
        description="Writes per bulk command. 32 is safe on FerretDB v1 (SQLite), which "
        "hangs on an update command of ~100 statements matching stored documents; on "
        "MongoDB a larger value (e.g. 1000) saves round trips",
    )

    @property
    def batch_wait_seconds(self) -> float:
        return self.normalizer_batch_wait_ms / 1000.0

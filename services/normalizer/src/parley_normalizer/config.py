"""Normalizer settings, from the environment."""

from __future__ import annotations

from parley_platform.settings import ServiceSettings


class NormalizerSettings(ServiceSettings):
    service_name: str = "normalizer"
    normalizer_app_id: str = "parley-normalizer"
    normalizer_web_port: int = 6066
    normalizer_web_bind: str = "127.0.0.1"

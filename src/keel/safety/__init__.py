"""Safety detectors: personal data and secrets (``pii``, ``pseudonymize``), prompt injection
(``injection``), canaries (``canary``) and matching over streams (``stream_match``)."""

__all__: list[str] = []

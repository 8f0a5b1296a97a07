"""The public API is exactly what ``keel.__all__`` names."""

import keel


def test_all_exports_exist() -> None:
    """Every name in ``keel.__all__`` is importable from ``keel``."""
    for name in keel.__all__:
        assert hasattr(keel, name), name


def test_public_api_is_pinned() -> None:
    """Adding or removing a public name is a deliberate change to this list."""
    assert set(keel.__all__) == {
        "Attempt",
        "AuthenticationError",
        "BudgetExceededError",
        "BudgetStateUnavailableError",
        "ChatRequest",
        "ChatResponse",
        "Chunk",
        "ChunkStream",
        "CircuitOpenError",
        "Config",
        "ConfigError",
        "ConnectError",
        "ContentPolicyError",
        "ContextLengthExceededError",
        "DeadlineExceededError",
        "FeatureDisabledError",
        "FlagConflictError",
        "FlagError",
        "FlagNotFoundError",
        "FlagStoreUnavailableError",
        "Gateway",
        "GatewayStream",
        "InvalidRequestError",
        "KeelError",
        "KeyStoreUnavailableError",
        "LedgerUnavailableError",
        "MalformedResponseError",
        "Message",
        "ModelNotFoundError",
        "NoRouteAvailableError",
        "OutputGuardError",
        "PiiBlockedError",
        "PromptInjectionError",
        "OutputRefusedError",
        "OutputSpec",
        "OutputValidationError",
        "PromptError",
        "PromptLabelConflictError",
        "PromptNotFoundError",
        "PromptOverrideError",
        "PromptStoreUnavailableError",
        "PromptVariableError",
        "RateLimitError",
        "RateLimitExceededError",
        "RequestError",
        "RequestOverBudgetError",
        "RouteUnavailableError",
        "ServerError",
        "StreamEnd",
        "StreamInterruptedError",
        "ToolsUnsupportedError",
        "UpstreamError",
        "UpstreamTimeoutError",
        "Usage",
        "load_config",
    }


def test_cost_is_exported_from_pricing_only() -> None:
    """``Cost`` (and ``PricingError``, a ``ConfigError``) come from ``keel.pricing``, not the top level."""
    import keel.pricing

    assert {"Cost", "PricingError", "Pricer"} <= set(keel.pricing.__all__)
    assert issubclass(keel.pricing.PricingError, keel.ConfigError)
    assert "Cost" not in keel.__all__ and "PricingError" not in keel.__all__

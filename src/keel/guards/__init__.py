"""Guards on what the client receives: output guards that scan answers and streams as they flow
(docs/guards.md)."""

from .output import Finding, OutputGuard, build_output_guards

__all__ = ["Finding", "OutputGuard", "build_output_guards"]

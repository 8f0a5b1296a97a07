"""Structured output: answers that parse as JSON and validate, repaired or asked for again."""

from .check import Checked, Problem, check, schema_problems
from .parse import Extracted, NotJSONError, extract_json
from .reask import reask_turns
from .spec import DEFAULT_MAX_REASKS, OutputSpec, Validator

__all__ = [
    "DEFAULT_MAX_REASKS",
    "Checked",
    "Extracted",
    "NotJSONError",
    "OutputSpec",
    "Problem",
    "Validator",
    "check",
    "extract_json",
    "reask_turns",
    "schema_problems",
]

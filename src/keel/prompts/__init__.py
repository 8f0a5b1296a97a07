"""Named, versioned prompts: a registry of immutable versions and movable labels, rendered into calls.

``PromptVersion`` (a version's model, parameters and templates), ``Template`` (``{name}``
placeholders and nothing else), ``PromptRegistry`` (what a gateway serves, from YAML files and the
database), ``PromptStore`` (the database side: versions, labels by compare-and-set, their history)
and ``PromptHandle`` (``gw.prompt("summarize").chat(document=...)``). See docs/prompts.md.
"""

from .handle import PromptHandle
from .registry import PromptRegistry, Selected
from .request import PromptRef
from .store import LabelMove, PromptSnapshot, PromptStore, open_prompt_store
from .template import Template, TemplateSyntaxError
from .version import PromptVersion

__all__ = [
    "LabelMove",
    "PromptHandle",
    "PromptRef",
    "PromptRegistry",
    "PromptSnapshot",
    "PromptStore",
    "PromptVersion",
    "Selected",
    "Template",
    "TemplateSyntaxError",
    "open_prompt_store",
]

"""A rule as its file gave it: the compiled rule, and what authoring tools need besides."""

from __future__ import annotations

from dataclasses import dataclass, field

from sigma.rule import SigmaRule

from trailhound.authoring.keys import RuleTest
from trailhound.authoring.yamlsource import YamlDocument
from trailhound.engine.rule import CompiledRule


@dataclass(frozen=True, slots=True)
class AuthoredRule(CompiledRule):
    """A rule loaded from its file, with what the file gave besides the rule: the pySigma rule
    (for filters and explanations), the YAML with the line of every key (for lint) and the
    inline tests."""

    sigma: SigmaRule = field(repr=False, compare=False)
    document: YamlDocument = field(repr=False, compare=False)
    tests: tuple[RuleTest, ...] = ()

"""The rule engine: load Sigma rule files, compile them once, index them, match records."""

from trailhound.engine.loader import CompiledRule, LoadResult, RuleError, load_rules
from trailhound.engine.ruleset import MatchResult, RuleSet

__all__ = ["CompiledRule", "LoadResult", "MatchResult", "RuleError", "RuleSet", "load_rules"]

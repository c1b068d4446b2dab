"""The rule engine: load Sigma rule files, compile them once, index them, match records.

`loader` reads rule files (YAML, pySigma); `bundle` reads the rules compiled at build time;
`conditions` builds the predicates and `ruleset` indexes them. Importing this package imports
none of them, so the handler pays only for what it uses.
"""

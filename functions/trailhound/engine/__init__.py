"""The runtime rule engine: rules as loaded, their predicates, and the index that matches records.

Nothing here parses YAML or Sigma: rules come compiled, from a rule bundle (`bundle`) or from the
authoring side (`trailhound.authoring`), as condition trees of plain data that `conditions`
turns into predicates and `ruleset` indexes.
"""

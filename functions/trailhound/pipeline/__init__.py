"""The data path both the Lambda and `trailhound replay` run: inputs → CloudTrail records → alerts.

`subscription` decodes the Lambda's CloudWatch Logs payloads, `logfiles` reads files, folders and
standard input, both into the items of `records`; `detection` matches them against a rule set
and builds the alerts.
"""

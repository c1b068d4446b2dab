"""The Lambda function: its handler, settings, rules and clients, and what it tells its operator.

`handler.lambda_handler` is the function's entry point (the template's `Handler`). Importing it
loads nothing from `trailhound.authoring`, pySigma or PyYAML while the rule bundle is current.
"""

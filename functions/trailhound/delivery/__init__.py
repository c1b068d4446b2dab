"""Delivery: alerts as people read them, and the ways they are sent.

`summary` holds the facts every message shows; `email` and `chat` render them for an inbox and
for AWS Chatbot; `notifications` makes one SNS message of both; `publisher` sends messages to
SNS, with `ledger` recording what was delivered; `stdout` prints alerts for `trailhound replay`.
"""

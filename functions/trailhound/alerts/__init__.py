"""Alerts: what a rule match tells the responder, built from the rule and the record.

`model` is the alert's stable JSON shape; `facts` reads who, what, when and where from a record
(`principal` names the identity, `parameters` shrinks the request parameters, `console` links
the event, `redaction` takes credentials out); `title` fills the rule's title template; `build`
puts them together.
"""

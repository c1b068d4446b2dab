"""trailhound: real-time alerting on AWS CloudTrail with Sigma rules."""

__version__ = "0.1.0"

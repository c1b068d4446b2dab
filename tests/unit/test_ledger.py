"""The ledger's records are those powertools' idempotency utility writes, so a table written by
one is read by the other across an upgrade."""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from trailhound.delivery.ledger import LEDGER_KEY_PREFIX, record_id


def test_record_ids_are_the_keys_powertools_hashes_for_the_same_alert() -> None:
    client = boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    store = DynamoDBPersistenceLayer(table_name="ledger", boto3_client=client)
    config = IdempotencyConfig(event_key_jmespath="alert", expires_after_seconds=3600)
    store.configure(config, key_prefix=LEDGER_KEY_PREFIX)
    for key in ("fe3cd8bc-7333-41b7-89e1-14232d00a468:signin_root_console_login", "sha256:ab"):
        assert record_id(key) == store._get_hashed_idempotency_key({"alert": key})

"""Event store: eventsourcing recorders on DynamoDB, written with pynamodb.

Select it with ``PERSISTENCE_MODULE=chalicelib.persistence.dynamodb``; see
``docs/event-store.md`` for the design and its limits.
"""

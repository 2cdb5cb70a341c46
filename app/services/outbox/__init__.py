"""The outbox: every change writes the events that tell of it in its own transaction.

`events` writes events from Python (one, or a batch by COPY); `tail` is the SQL every write
statement ends with (its events, one row per recipient, and its audit event); `bodies` builds
an event's body for its recipient (the webhooks and the feed share it: same ids, same bodies,
the patient minimum joined for the entitled recipients only); `feed` serves a client's events
in commit order without ever skipping one that committed late. Delivery is `webhooks`.
"""

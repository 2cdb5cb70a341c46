"""The outbox: every change writes the events that tell of it in its own transaction.

`events` writes events from Python (one, or a batch by COPY); `tail` is the SQL every write
statement ends with (its events and its audit event). Delivery and the feed come later.
"""

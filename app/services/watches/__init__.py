"""Watches of a search (issue 17): a regulator's search, watched for slots that open.

Rules:
- a watch is a search body (`POST /v1/searches`'s) with a lifetime (default 30 min, at most
  2 h); a regulator has at most WATCH_MAX_OPEN_PER_REGULATOR open (not deleted, not expired)
  at once: beyond, a 429 `too-many-watches` with the seconds to the soonest expiry
  (`store.create_watch`, counted under a per-regulator advisory lock, never check-then-write);
- only its regulator reads or deletes it (404 for everyone else);
- its stream sends a `slot` event when a slot that the same search now returns opens after the
  watch's start (pushed, updated, transferred, released, expired hold, cancelled booking: the
  outbox events of `models.outbox_event.SLOT_OPENING_TYPES`), with the candidate as that search
  ranks it; no event for what was free before the watch began (the search said so already);
- driven by the change feed, not by polling per watch (`hub`): each process serving streams
  LISTENs on `slot_openings` (the trigger of migration 0014 NOTIFYs at commit), then reads the
  slot openings after its cursor below the feed's horizon (`outbox.feed.HORIZON`: never skips a
  late commit), finds which of those slots are free with one query, and runs a watch's search
  only when one of them is near it (its territories, modalities, window and largest radius,
  `nearby`): a watch costs no database work while nothing changes near it;
- an event's id is its position in that feed (sealed): `Last-Event-ID` resumes after it, the
  slot openings since then judged against the search as it stands; heartbeats (every
  WATCH_HEARTBEAT_SECONDS) carry the position reached, so a resume starts there;
- with `hold`, the first match is held for the regulator by `holds.take.take_first_free` (the
  conditional update of `POST /v1/holds`), at most once per watch (the watch row is claimed in
  the same transaction) and never twice per slot; the event says `held` with the hold, or
  `taken` when another took it first; the `held` event is kept on the watch (the held slot
  leaves the search) and replayed on resume;
- expiry and DELETE end the stream with an `end` event (a DELETE served by another process
  reaches it by NOTIFY `watch_changes`).
"""

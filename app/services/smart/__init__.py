"""SMART Scheduling Links publication (smart-on-fhir/smart-scheduling-links), under /smart.

Rules:
- The manifest (`GET /smart/$bulk-publish`) lists, per département with a territory that
  publishes, one Location, one Schedule and one Slot file, each tagged `extension.state` with
  the département code (the spec's per-state hint, so an aggregator fetches only its region).
- Published: active sites of active territories whose `smart_labels` is not empty (Location),
  their professionals' places of practice (Schedule: one per professional and site, the same
  id as the SAS interface's), and the slots that are free (`slots.rules.free`), offered
  (`slots.rules.offered` in the département's publishing territories), start before the end
  of the day after tomorrow in the territory's zone, and carry one of the territory's
  published labels (default `PUBLIC`; `SNP`/`CPTS` only if the territory asks).
- `_since` (a timestamp with an offset): the Slot file lists only the slots changed since
  (written, lapsed hold, entered the window, or their site or territory edited), now `free`
  or `busy`, so that a client drops what was taken. Location and Schedule files ignore it
  (the spec lets a server do so). Narrowing a territory's labels is seen at the next full fetch.
- Public and keyless (the spec's access advice: these data are meant for consumer apps); no
  patient data is read. Errors are problem+json, like the rest of the non-FHIR API.
"""

"""CPTS indicators: what a CPTS reports of its SNP activity, and what its doctors are paid for.

Rules (issue 14), for one territory and a period of whole days in the territory's zone:
- Weeks are ISO weeks of the territory's zone (`2026-W43`); a slot, a consultation or a
  majoration counts in the week its start falls in, there. Durations are real time (a slot
  across a change of the clocks lasts what the clock of the world says, not the wall clock).
- Slots offered: every slot not cancelled whose start is in the period, at a site of the
  territory, whatever became of it (free, held, booked); by week, professional, modality and
  label (a slot with two labels counts under each; the totals count it once).
- Forfait: a professional reaches it in a week with at least 2 h (7,200 s, included) of SNP
  slots (label `SNP`) offered that week.
- Activity, counted by when it happened: searches (their audit events, over the territory: a
  regulator of several territories' search counts in each), those with no candidate; holds
  (taken in the territory); bookings (booked in the period), and of those the ones since
  cancelled, fulfilled, no-show; within 48 h: the consultation starts at most 48 h after the
  search (the hold's `search_id`, else the hold's own time); the median distance (bookings
  whose hold quoted a search) and the median delay from the search to the consultation.
- Majoration: per professional and week of the consultation, the bookings not cancelled and
  not reported as no-show, made by a regulator (every booking is), starting within 48 h of
  the search, whose professional is not the patient's médecin traitant when the booking said
  who it is; capped at the professional's `weekly_snp_cap` (default 20).
- En-sus requests opened in the period, and of those the ones accepted, expired.
Everything is counted from plain columns (slots, bookings' facts, audit events, en-sus
requests): purging a booking's sealed patient minimum changes no figure.
"""

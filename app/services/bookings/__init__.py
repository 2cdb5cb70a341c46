"""Bookings: a live hold confirmed with the sealed patient minimum; cancellation and the
practice's reports (fulfilled, no-show, cancelled).

Rules owned: only the holding regulator books, only while the hold is live; who may read a
booking and its patient minimum; every read of patient data is audited.
"""

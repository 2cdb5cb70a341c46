"""Slots: what practice software pushes, and the rules every reader of slots shares.

Rules owned: when a slot is *free* and when it is *offered* (`rules`, the one definition); what
an item must be to be accepted (`intake`); no overlap between a professional's active slots
(`overlap`); a push never changes a held or booked slot (`writes`); every change writes its
event (`inserts`, `writes`, `agenda`).
"""

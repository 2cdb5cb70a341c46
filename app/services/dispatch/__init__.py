"""Dispatch: search and hold the best free candidate in one call.

Rules owned: a race never hides a free slot (the candidates are tried in ranking order, the
search run again while it comes back full); "no free slot" only when none is left.
"""

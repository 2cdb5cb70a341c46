"""The audit trail: who did what to which resource, never patient data.

`record` writes an event in the caller's transaction (or gives the columns for a statement that
writes its own); `trail` reads the trail for admins.
"""

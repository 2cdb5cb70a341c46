"""Holds: a regulator takes a free slot for a few minutes.

Rules owned: one conditional statement takes a slot (`take`), and a held slot is refused to
everyone, its holder included (`lifecycle`); explicit renewal by the holder, capped on the
hold's whole life (`renew`); release (`lifecycle`);
a lapsed hold is free at once and is swept back to free (`expiry`); every writer locks the
slot row before its bookings row. Expiries and the lapsed and live checks are at the
statement's time (`statement_timestamp()`): a hold taken late in a long transaction lasts what
was asked, and a hold that lapsed during it is lapsed.
"""

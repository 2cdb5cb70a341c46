"""Search: the best free slots near a patient for a regulator.

Rules owned: the window (`window`), the radius and its enlargement (`radius`), the ranking groups
and score (`sql`, explained by `ranking`), reachability by straight line or by road
(`travel_time`), and the search's audit event. Free and offered come from `slots.rules`.
"""

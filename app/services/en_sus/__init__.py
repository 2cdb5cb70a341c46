"""En-sus requests: when nothing is free, the territory's professionals who see patients beyond
their published slots are asked; the first who accepts gets the patient.

Rules owned: who is asked, first accept wins, a request's lifetime and expiry (`expiry`), the
sealing of the patient's criteria and who may read them.
"""

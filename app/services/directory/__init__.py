"""The directory the CPTS admin maintains: territories, professionals, sites, API clients,
commune centroids and the SAS radius table.

Rules owned: who may be linked to what (a site's professionals, a client's territories and
professionals), deactivation instead of deletion, the radius defaults per département, an API
key's rotation (`client_keys`), handing a practice software's slots to another (`slot_transfer`).
"""

"""The directory the CPTS admin maintains: territories, professionals, sites, API clients,
commune centroids and the SAS radius table.

Rules owned: who may be linked to what (a site's professionals, a client's territories and
professionals), deactivation instead of deletion, the radius defaults per département.
"""

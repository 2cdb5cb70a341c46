"""SNP dispatch: the shared unscheduled-care agenda and dispatcher of a CPTS."""

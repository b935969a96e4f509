"""Services: the transactions of the domain, and the only layer that commits."""

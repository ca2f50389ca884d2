"""HTTP: the inbound webhook blueprint, errors as JSON, and (later) the admin API."""

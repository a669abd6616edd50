"""Producer side of the lab: the CLI, batch submission, result collection, statistics, the local stack."""

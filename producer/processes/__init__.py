"""Processes the lab runs: the local stack, measurement fleets, their command lines, Redis, Flower."""

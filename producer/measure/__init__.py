"""Measuring: compare, sweep, their analysis, records, report and charts."""

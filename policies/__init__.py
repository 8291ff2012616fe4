"""Baseline policies as data: which controls each check supports, and remediation deadlines."""

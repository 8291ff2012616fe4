"""Exposed services: risky and unexpected open ports on the hosts an organisation declares."""

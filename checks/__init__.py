"""The checks secbase ships; installed as secbase_checks and found through the secbase.checks entry point."""

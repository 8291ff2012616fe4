"""backup.*: the backups an organisation declares (restic, borg, folders of dumps) and their configuration."""

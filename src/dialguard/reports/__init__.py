"""Reports supervisors and regulators read: compliance per campaign and window, and the
attempt-by-attempt audit trail. Read-only over the store."""

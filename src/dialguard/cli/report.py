"""`dialguard report …` (placeholder until its issue lands)."""

from cyclopts import App

app = App(name="report", help="Not yet available.")

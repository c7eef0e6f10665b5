"""`dialguard campaign …` (placeholder until its issue lands)."""

from cyclopts import App

app = App(name="campaign", help="Not yet available.")

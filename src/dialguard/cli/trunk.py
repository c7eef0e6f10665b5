"""`dialguard trunk …` (placeholder until its issue lands)."""

from cyclopts import App

app = App(name="trunk", help="Not yet available.")

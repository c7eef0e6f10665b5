"""`dialguard imports …` (placeholder until its issue lands)."""

from cyclopts import App

app = App(name="imports", help="Not yet available.")

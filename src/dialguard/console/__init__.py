"""The supervisor web console (``dialguard console``; docs/console.md).

Its own process, bound to 127.0.0.1 by default, with no private path into the engine:
it reads the floor from the engine's status snapshot on the broker, sends changes as
the same MQTT requests ``dialguard campaign`` sends, and reads reports from the store,
exactly like the command line. Needs the ``console`` extra (starlette, uvicorn, jinja2,
argon2-cffi, plotly); the daemon never imports it.
"""

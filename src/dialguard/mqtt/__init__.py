"""dialguard.mqtt — the MQTT contract and the client side of it, a layer of its own.

Agent desktops, supervisors' tools, the web console and the engine only ever meet on the
broker. What they agree on lives here, below all of them, so that a front end can speak
to the engine without importing the engine (issue 14):

- :mod:`dialguard.mqtt.contract`: topic names and the pydantic model of every payload
  (docs/mqtt.md is generated from it).
- :mod:`dialguard.mqtt.client`: connecting to the configured broker, the reconnect
  backoff, and the supervisor's request/reply and status read.

The engine's own connection (``BrokerLink``, fail closed, resync) stays in
``dialguard.engine.mqtt`` and is built from these. Nothing is re-exported here: import
each name from its module.
"""

"""A whole contact centre on one machine: the demo and the end-to-end tests.

:class:`~dialguard.demo.centre.LocalCentre` starts (or finds) an MQTT broker, the SIP
trunk simulator, simulated agent desktops and the real engine with the real SIP
adapter, loads a sample campaign and list, and reports from the simulator's own
records — what a regulator would see on the wire, not what the engine believes.
"""

"""aecnn-sim's discrete-event simulator of device-edge co-inference (SimPy; no torch)."""

__version__ = "0.1.0"

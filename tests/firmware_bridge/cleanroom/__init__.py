"""A clean-room client of PROTOCOL.md (see wire.py) and the tests that hold the code to the spec."""

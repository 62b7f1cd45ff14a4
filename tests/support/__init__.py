"""Helpers shared by the tests: a real server as a child process, websocket peers,
sample files, and an event loop on virtual time. Test modules import from here,
never from one another."""

"""Helpers of the console's end-to-end tests: the demo as a process, application sessions, the browser."""

"""Both clients (Python in process, JavaScript in headless Chromium) behind one interface, against a
local cluster of two runtime servers, Redis, PostgreSQL and a TCP proxy: the scenarios that the client
tests (tests/clients) assert and ``python -m bench.client_faults`` measures."""

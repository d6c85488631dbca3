"""In-memory fakes of the services' own ports, one per port, shared by the unit tests.

Each fake passes the same contract suite as its real adapter
(tests/contract/ports/), so a unit test on a fake proves what it would on the store.
"""

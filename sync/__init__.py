"""FieldSync's reconciliation engine: plain Python, no Flask, no marshmallow.

Entry points live in `sync.engine` (`push_batch`, `pull`, `resolve_conflict`,
`decide_registration`); storage is the `sync.store.Store` protocol, kept in memory by
`sync.memory.MemoryStore`; refusals are the exceptions of `sync.errors`.
"""

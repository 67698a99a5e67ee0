"""The contracts producers and consumers share: the event envelopes and payloads (`events`) and
the user roles (`roles`). A change here is a change to the wire format: version it.

May import: nothing of `shared` outside `shared.contracts`.
"""

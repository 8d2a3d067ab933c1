"""Use cases run in a unit of work. Services see the store and the bus only through the
Protocols in `ports`, never a concrete adapter."""

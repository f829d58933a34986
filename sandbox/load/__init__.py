"""From a fixture source to an immutable snapshot: reading, OpenAPI, building, following sources."""

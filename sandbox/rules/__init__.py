"""Per-operation data and its interpreters: lookup and validation rules, error texts, tokens, routes."""

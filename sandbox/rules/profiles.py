"""The answer profiles `sandbox serve --profile` offers: the staging's whole payloads, or production's
cut to the token's scopes (`rules.production_fields`, loaded only when that profile is served)."""

PROFILES = ("staging", "production")

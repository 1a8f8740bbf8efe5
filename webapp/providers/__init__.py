"""Upstream adapters: the only code in Reelay that speaks HTTP to a provider."""

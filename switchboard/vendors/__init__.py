"""Providers: one module each (proof, fields, status map), plus shared helpers and a registry."""

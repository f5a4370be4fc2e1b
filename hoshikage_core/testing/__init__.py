"""Test helpers for Hoshikage and its plugins."""

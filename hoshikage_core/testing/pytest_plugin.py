"""pytest plugin: fixtures for Hoshikage plugin authors."""

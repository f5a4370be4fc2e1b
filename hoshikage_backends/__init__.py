"""Backends shipped with Hoshikage. Each registers through the ``hoshikage``
entry-point group, exactly as a third-party backend would."""

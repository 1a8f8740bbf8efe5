"""The Jinja environment, with template globals in one flat dict.

Jinja keeps each template's globals as a ChainMap over the environment's, and every
``{% from … import %}`` compares the caller's global names against it: a Python-level
ChainMap walk per name, about 300 per history page (a millisecond of its ~7). Jinja's
own advice is not to change globals once templates load, and Reelay sets them all in
``create_app``, so a flat copy answers the same, at dict speed."""

from __future__ import annotations

from flask.templating import Environment


class FlatGlobalsEnvironment(Environment):
    def make_globals(self, d):
        return {**self.globals, **(d or {})}

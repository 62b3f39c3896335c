"""User-facing errors: one clear line, a non-zero exit, no traceback.

Anything the user can fix (a bad config value, a missing column, an unreachable model id, an
output folder that already holds a run) is raised as a `UserError`; the CLI prints its message
on one line and exits with status 2. Bugs stay ordinary exceptions, with their traceback.
"""


class UserError(Exception):
    """An error the user can fix; the message is shown as is, on one line."""

    exit_code = 2


class ConfigError(UserError):
    """A config field has a bad value; the message names the field."""

"""The one exception root of microfactory and its small, documented tree.

Third-party errors are translated into these at one boundary per adapter; the API maps
them to HTTP status codes in one exception handler; the CLI maps them to exit codes.

MicrofactoryError            anything microfactory raises on purpose
├── ValidationError          bad input: a file, a payload, a parameter (HTTP 422, exit 2)
├── NotFound                 an id that does not exist (HTTP 404, exit 3)
├── Conflict                 a state that forbids the action: illegal transition,
│                            duplicate id (HTTP 409, exit 4)
├── PermissionDenied         the caller's role does not allow it (HTTP 403)
├── ConnectorError           a broker, server or database that cannot be reached (HTTP 503)
├── InfeasibleError          a problem that has no solution where one is required
└── NotFittedError           a model used before `fit`
"""

from __future__ import annotations


class MicrofactoryError(Exception):
    """Root of every error microfactory raises on purpose."""

    exit_code = 1


class ValidationError(MicrofactoryError, ValueError):
    """Input that breaks a rule. `where` names the file, line or field path; `problems`
    lists every (where, reason) when a whole file was checked and several things are wrong."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        where: str | None = None,
        problems: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.where = where
        self.reason = message
        self.problems = problems
        super().__init__(f"{where}: {message}" if where else message)

    @classmethod
    def of(
        cls, problems: list[tuple[str, str]], *, where: str | None = None, shown: int = 50
    ) -> ValidationError:
        """One error for several problems: the first `shown` listed one per line."""
        if len(problems) == 1:
            at, reason = problems[0]
            return cls(reason, where=at, problems=tuple(problems))
        lines = [f"  {at}: {reason}" for at, reason in problems[:shown]]
        if len(problems) > shown:
            lines.append(f"  ... and {len(problems) - shown} more")
        message = f"{len(problems)} problems:\n" + "\n".join(lines)
        return cls(message, where=where, problems=tuple(problems))


class NotFound(MicrofactoryError, LookupError):
    exit_code = 3


class Conflict(MicrofactoryError):
    exit_code = 4


class PermissionDenied(MicrofactoryError):
    exit_code = 5


class ConnectorError(MicrofactoryError):
    exit_code = 6


class InfeasibleError(MicrofactoryError):
    exit_code = 7


class NotFittedError(MicrofactoryError, AttributeError):
    """Raised when a model is used before `fit` (scikit-learn's contract)."""

"""The one error type that services raise; the edges translate it."""


class ApplicationError(Exception):
    """A refusal the caller can act on.

    `code` is stable and machine-readable (it reaches API clients and
    socket error frames); `fields` maps field names to what is wrong with
    them, for 400/422 answers.
    """

    def __init__(self, code: str, message: str, *, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or {}

"""WebSocket close codes of the contract (4xxx are application codes)."""

NOT_SIGNED_IN = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404  # unknown tenant, unknown store, unknown path
TOO_SLOW = 4408  # the client reads too slowly to keep up; it resumes by seq
TOO_MANY_SOCKETS = 4429  # this user already has SOCKETS_PER_USER open
CONNECTION_LOST = 1006  # never sent: the connection dropped with no close (what `release` is told)
MESSAGE_TOO_BIG = 1009
INTERNAL_ERROR = 1011  # a bug; reported to Sentry
# 1012: the worker is shutting down (sent by uvicorn itself, never by us)
TRY_AGAIN_LATER = 1013  # Redis or PostgreSQL is unavailable right now

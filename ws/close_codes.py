"""WebSocket close codes of the contract (4xxx are application codes)."""

NOT_SIGNED_IN = 4401
FORBIDDEN = 4403
NOT_FOUND = 4404  # unknown tenant, unknown store, unknown path
MESSAGE_TOO_BIG = 1009
SERVICE_RESTART = 1012

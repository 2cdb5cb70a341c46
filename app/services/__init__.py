"""The rules of the service, one package per domain (see docs/architecture.md).

Routers call services; services call `app.models`, `app.core` and each other, never routers.
"""

"""Integrations: shop systems that POST signed webhooks (Standard Webhooks)
to create and update orders, and their management by tenant admins.

`webhooks` verifies and parses a request, `services` applies it, `api` is
the HTTP edge. The models stay in orders/models.py.
"""

"""The composition root (services.py), the command table and router, admin, flood and stats."""

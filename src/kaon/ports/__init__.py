"""Protocols the services need; backends implement them, app.py wires them."""

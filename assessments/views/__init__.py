"""Blueprints: thin views that parse a form, call one service, then flash/redirect/render."""

"""Renderers: turn a trace into what a person reads. They never decide network behaviour."""

"""Tests for edgekit.backends."""

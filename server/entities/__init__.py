"""Reads of households, registrations, support items and payouts."""

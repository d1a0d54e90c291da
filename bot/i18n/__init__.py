"""Catalogs, locale negotiation and Babel formatting of every number and date users see."""

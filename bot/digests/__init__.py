"""The daily digest: the subscribe flow, the minute sweep and admin broadcasts."""

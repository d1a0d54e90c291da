"""The newsroom: feeds in, candidates out; an editor's approval makes them facts."""

"""Training pipeline of the project's own sky model (not part of the runtime package)."""

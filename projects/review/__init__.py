"""Lab review of annotations: accept, reject, send back for revision; edge cases."""

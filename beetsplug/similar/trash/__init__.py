"""Sending extras to the system trash, journaled and undoable.

``freedesktop`` (finding and restoring files in a freedesktop.org trash)
and ``rating`` (the XMP rating) are pure; ``merge`` plans what the photo
kept takes over; ``store`` keeps what is needed to restore a photo's row;
``job`` runs, resumes and undoes a trash run.
"""

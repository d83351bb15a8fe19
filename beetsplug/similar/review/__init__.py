"""``beet similar-review``: a local web page to go through duplicate groups
one at a time, keyboard first.

``groups`` (the groups and what each photo shows), ``fields`` (only the
fields that differ, the better value marked; pure), ``actions`` (trash,
move, keep all, skip, undo, bulk: the command line's code paths),
``previews`` (images by photo id, cached), ``server`` (the Flask app).
"""

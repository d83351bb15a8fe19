"""``beet similar-review``: a local web page to go through duplicate groups
one at a time, keyboard first.

``groups`` (the groups and what each photo shows), ``evidence`` (how each
photo matches the keeper), ``fields`` (only the fields that differ, the
better value marked; pure), ``session`` (trash, move, keep all, skip,
undo: the command line's code paths), ``bulk`` (the suggested keepers of
every open group, by kind), ``previews`` (images by photo id, cached),
``launch`` (the private file that opens the browser), ``server`` (the
Flask app).
"""

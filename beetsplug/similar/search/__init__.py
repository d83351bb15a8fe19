"""Neighbours and distances, shared by grouping and ordering: exact ones
of vectors in memory (``exact``); for big libraries, vectors reduced to a
few dimensions as they stream from the database and one approximate
neighbour graph over them (``reduce``, ``graph``, ``space``), kept between
runs (``kept``, ``slots``)."""

"""Search in big libraries: vectors reduced to a few dimensions as they
stream from the database, and one approximate neighbour graph over them,
shared by grouping and ordering. Pure: NumPy, scikit-learn and faiss."""

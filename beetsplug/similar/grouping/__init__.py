"""Near-duplicate groups, shared by similar-dupes, similar-report and
similar-order: which photos belong together, by the network's distances,
the second check and the frames of one camera."""

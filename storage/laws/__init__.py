"""Law catalog: Thai text handling, importer, seed and search."""

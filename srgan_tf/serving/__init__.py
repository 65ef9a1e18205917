"""Generators as SavedModels for TF Serving: the serving module and its signatures, tiling, export, client."""

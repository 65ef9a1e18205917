"""Measuring upscalers as papers do: metrics, benchmark image pairs, upscalers, scoring, reports, pictures."""

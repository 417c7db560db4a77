"""HTTP surfaces: one module per surface (OpenAI dialect, native dialect, health)."""

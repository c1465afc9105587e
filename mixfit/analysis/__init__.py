"""Stage 4, analysis on a results folder: its saved draws and design in, numpy only (no Stan, no
compiling); out, what a brms user asks next of a fit."""

"""The papers' dynamics: diffusion (second paper), flows and DAL (third), convergence diagnostics (fourth)."""

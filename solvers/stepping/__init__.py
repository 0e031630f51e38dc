"""Stepping: optimizer records resolved to numbers, the one stepper, divergence criteria, bisection."""

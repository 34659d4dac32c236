"""Plan and apply: what a setkey file would change in the live kernel, and converging to it.

:func:`~setkey_tui.plan.diff.make_plan` runs a script on a simulated copy of the live state and compares;
:func:`~setkey_tui.plan.ops.operations` orders the fewest kernel requests (make-before-break);
:func:`~setkey_tui.plan.apply.apply_plan` executes them, verifies and rolls back on failure.
"""

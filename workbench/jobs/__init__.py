"""Jobs: validation runs, parameter sweeps and their executors, output folders."""

"""Stage 5, the cluster: the same steps split into batch jobs (chains as array tasks, combined
afterwards) and submitted to SLURM."""

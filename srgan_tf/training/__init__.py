"""Training a phase: the job, the trainer and its controller, checkpoints, distribution, schedules and the
guards against preemption and divergence."""

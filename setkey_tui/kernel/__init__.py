"""Kernel transports: the real PF_KEY socket, the embedded simulated kernel, replay."""

"""The delivery worker: claims due deliveries, sends them, records what happened."""

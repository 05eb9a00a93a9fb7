"""The Ray backends: the executor (kaon.exec.ray.executor) and what runs on a Ray worker for
it and for Ray replicas (kaon.exec.ray.worker). Needs the `ray` extra."""

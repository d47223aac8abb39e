"""The Autonomy operator: reconciles `Cluster` and `Zone` resources into Kubernetes objects."""

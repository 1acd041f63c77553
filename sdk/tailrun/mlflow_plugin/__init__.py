"""MLflow on tailrun: a tracking store (store.py) and an artifact repository (artifacts.py) for
`tailrun://` URIs, registered through MLflow's plugin entry points (`mlflow.tracking_store`,
`mlflow.artifact_repository`) in the `mlflow` extra. Use: `mlflow.set_tracking_uri(
ws.get_mlflow_tracking_uri())`. Imported by MLflow only, never by `import tailrun`."""

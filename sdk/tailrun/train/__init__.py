"""Azure ML's `azureml.train` import path (`tailrun.train.estimator.Estimator`)."""

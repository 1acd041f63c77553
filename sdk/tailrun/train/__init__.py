"""Azure ML's `azureml.train` import paths: `tailrun.train.estimator` (Estimator),
`tailrun.train.sklearn` (SKLearn) and `tailrun.train.dnn` (PyTorch, TensorFlow, Chainer, Mpi, Gloo,
Nccl, ParameterServer)."""

"""CloudWatch Logs over the model servers' output.

Every line a copy prints is stamped and kept in its log stream's file
(:mod:`~moorage.logs.collector`, :mod:`~moorage.logs.layout`), under the log
groups and streams SageMaker writes (:mod:`~moorage.logs.names`); the Logs
API reads them back (:mod:`~moorage.logs.service`). See docs/logs.md.
"""

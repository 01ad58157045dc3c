"""Application Auto Scaling for SageMaker resources, on moorage's port.

Users register scalable targets (a variant's instance count, a serverless
variant's provisioned concurrency, an inference component's copy count),
put target tracking or step scaling policies and scheduled actions, and
moorage scales real model servers through the SageMaker operations that
change capacities (docs/autoscaling.md).

Modules: pure pieces — :mod:`.resources` (what can be scaled),
:mod:`.target_tracking`, :mod:`.step_scaling`, :mod:`.proposals`,
:mod:`.decision`, :mod:`.cooldown`, :mod:`.schedule`; records and the API —
:mod:`.records`, :mod:`.activities`, :mod:`.targets`, :mod:`.policies`,
:mod:`.scheduled`, :mod:`.history`, :mod:`.paging`, :mod:`.errors`,
:mod:`.arns`; acting — :mod:`.levers`, :mod:`.controller`; assembly —
:mod:`.service`. The wire protocol is :mod:`moorage.api.autoscaling_api`.
"""

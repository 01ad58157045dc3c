"""moorage: self-hosted Amazon SageMaker real-time hosting.

The package is layered (see docs/architecture.md): ``api`` speaks the wire
protocols, ``control`` records desired state, ``deploy`` reconciles it through
``fleet`` (the only code that starts or stops model-server processes),
``runtime`` routes invocations, ``container`` is the model server itself and
``store`` is the only code that touches the database.
"""

__version__ = "0.1.0"

"""Networks built from a layer spec: specs and validation, presets, blocks, summary, model files.

- :mod:`lociflow.model.spec`: the layer specs a user writes (``conv``, ``residual``, ``dense``,
  ``gru``, ``lstm``, ``attention``, ``pool``) and their parsing with readable errors;
- :mod:`lociflow.model.plan`: shape inference and validation of a whole architecture;
- :mod:`lociflow.model.presets`: ready architectures (``cnn``, ``rnn``, ``cnn_rnn``, ...);
- :mod:`lociflow.model.layers` and :mod:`lociflow.model.network`: the PyTorch modules;
- :mod:`lociflow.model.summary`: printed summary, receptive field and diagram;
- :mod:`lociflow.model.io`: the model directory (safetensors + ``spec.yaml``), and
  :mod:`lociflow.model.torchscript` for models trained elsewhere.
"""

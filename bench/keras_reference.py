"""The reference engine for ``bench/train.py --reference keras``: the tool lociflow replaces
trained Keras networks on TensorFlow, so its two usual shapes are written here once in Keras
and once (``LOCIFLOW_NETWORKS``) as lociflow architecture specs.

- ``cnn``: conv 32 filters kernel 8 ReLU, batch norm, max pool 2, dropout 0.2, conv 64
  kernel 8 ReLU, max pool 2, flatten, dense 32 ReLU, dense 2;
- ``cnn_bigru``: conv 64 kernel 9 ReLU, max pool 2, bidirectional GRU 32 (last state), dense 2.

Both engines see the same arrays (one-hot ``[N, 150, 4]`` float32), batch 256, Adam at 1e-3,
valid padding. One difference in order: lociflow applies batch norm before the activation
(its conv block is conv, batch norm, activation, pool, dropout), Keras after, as written
above; the arithmetic is the same. TensorFlow is installed for this bench only
(``make bench-keras``); it is never a lociflow dependency.
"""

from __future__ import annotations

import time

import numpy as np

LOCIFLOW_NETWORKS = {
    "cnn": {
        "branches": {"seq": [
            {"type": "conv", "filters": 32, "kernel": 8, "padding": "valid", "batch_norm": True, "pool": "max",
             "pool_size": 2, "dropout": 0.2},
            {"type": "conv", "filters": 64, "kernel": 8, "padding": "valid", "pool": "max", "pool_size": 2},
        ]},
        "common": [{"type": "dense", "units": 32}],
    },
    "cnn_bigru": {
        "branches": {"seq": [
            {"type": "conv", "filters": 64, "kernel": 9, "padding": "valid", "pool": "max", "pool_size": 2},
            {"type": "gru", "units": 32, "bidirectional": True, "output": "last"},
        ]},
        "common": [],
    },
}


def keras_network(name: str, window: int, channels: int = 4, classes: int = 2):
    """The Keras twin of ``LOCIFLOW_NETWORKS[name]``, compiled with Adam and cross-entropy."""
    import keras
    from keras import layers

    inputs = keras.Input((window, channels))
    if name == "cnn":
        x = layers.Conv1D(32, 8, activation="relu")(inputs)
        x = layers.BatchNormalization()(x)
        x = layers.MaxPooling1D(2)(x)
        x = layers.Dropout(0.2)(x)
        x = layers.Conv1D(64, 8, activation="relu")(x)
        x = layers.MaxPooling1D(2)(x)
        x = layers.Flatten()(x)
        x = layers.Dense(32, activation="relu")(x)
    elif name == "cnn_bigru":
        x = layers.Conv1D(64, 9, activation="relu")(inputs)
        x = layers.MaxPooling1D(2)(x)
        x = layers.Bidirectional(layers.GRU(32))(x)
    else:
        raise ValueError(name)
    model = keras.Model(inputs, layers.Dense(classes)(x))
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def keras_rates(name: str, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int, threads: int,
                predict_batch: int = 1024) -> dict[str, float]:
    """Training samples/s (first epoch not counted) and inference samples/s of the Keras twin."""
    import keras
    import tensorflow as tf

    try:  # settable only before TensorFlow's first operation
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    keras.utils.set_random_seed(42)
    model = keras_network(name, x.shape[1], x.shape[2], int(y.max()) + 1)

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.start)

    seconds: list[float] = []
    model.fit(x, y, batch_size=batch_size, epochs=epochs, shuffle=True, verbose=0, callbacks=[Clock()])
    counted = seconds[1:] or seconds
    train = len(x) * len(counted) / sum(counted)
    model.predict(x[:predict_batch], batch_size=predict_batch, verbose=0)  # warm-up
    start = time.perf_counter()
    model.predict(x, batch_size=predict_batch, verbose=0)
    return {"train_per_s": train, "predict_per_s": len(x) / (time.perf_counter() - start)}

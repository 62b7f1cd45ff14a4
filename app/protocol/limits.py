"""Every limit a client is held to, each written once.

The engine's and the data's own limits (layers, neurons, inputs, classes,
dropout, noise, points) are taken from them; the models of `app.protocol.config`
validate with these constants, the `session` message repeats `LIMITS`, and
`GET /api/vocabulary` derives the page's slider ranges from the same models.
"""

from __future__ import annotations

from typing_extensions import TypedDict

from app.data.csv_import import MAX_ROWS
from app.data.datasets import NOISE_MAX, TRAIN_PERCENT_RANGE
from app.nn.dropout import MAX_DROPOUT
from app.nn.losses import MAX_CLASSES as MAX_CLASSES  # outputs of a multiclass network
from app.nn.network import MAX_HIDDEN_LAYERS, MAX_INPUTS
from app.nn.network import MAX_NEURONS as MAX_NEURONS

MAX_LAYERS = MAX_HIDDEN_LAYERS
MAX_FEATURES = MAX_INPUTS
MAX_POINTS = MAX_ROWS  # points of any dataset, generated or uploaded
MIN_POINTS = 20
MAX_MESSAGE_BYTES = 65536
MAX_ECHO_BYTES = 200  # an error repeats at most this much of a bad value
# The most work one step message or request may ask for (it runs before anything else is
# answered): updates, and training samples passed through the network (updates x batch size).
MAX_STEP_UPDATES = 5000
MAX_STEP_SAMPLES = 200_000
# Units of one step message: no tighter than the work bound above (phases run in slices).
MAX_STEP_COUNT = MAX_STEP_UPDATES
MAX_SEED = 2**31 - 1
MAX_COUNT = 2**53 - 1  # a step or epoch count: exact in JSON and in a browser's numbers
MAX_FPS = 60
MAX_UPDATES_PER_SECOND = 100_000
MAX_NOISE = int(NOISE_MAX)  # percent
MIN_TRAIN_PERCENT, MAX_TRAIN_PERCENT = TRAIN_PERCENT_RANGE
MAX_DROPOUT_RATE = MAX_DROPOUT


class Limits(TypedDict):
    max_layers: int
    max_neurons: int
    max_features: int
    max_points: int
    max_message_bytes: int


# What the `session` message and `GET /api/vocabulary` tell a client.
LIMITS: Limits = {"max_layers": MAX_LAYERS, "max_neurons": MAX_NEURONS, "max_features": MAX_FEATURES,
                  "max_points": MAX_POINTS, "max_message_bytes": MAX_MESSAGE_BYTES}

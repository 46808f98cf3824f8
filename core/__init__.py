"""Core layer. Importing it pins process-wide runtime defaults before torch or transformers load:

- the Hugging Face hub is never contacted (every model comes from disk);
- OpenMP threads sleep instead of spinning while they wait: on a small shared CPU, spinning
  threads of one request starve every other process (a 40 ms query embedding took 900 ms).
"""

import os

for _key, _value in {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "OMP_WAIT_POLICY": "PASSIVE",
}.items():
    os.environ.setdefault(_key, _value)

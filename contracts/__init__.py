"""The wire contracts every part of parkcarbon shares: the batch record of ``readings.raw``, the
window results of ``emissions.windows``, the alerts of ``alerts``, the topic names, the id and
unit patterns, and their encoders and decoders. No Kafka client, no database, no Faust: the
gateway, the worker, the store and the API all read this package, and it reads only
``accounting``."""

"""The stream layer: Kafka contracts (topics, records) and the Faust app that wires accounting."""

-- Readings collected by a gateway from an MQTT broker (an edge gateway such as EMQX Neuron, or a
-- device publishing JSON) carry source 'mqtt'. They are gateway traffic like modbus and opcua:
-- subject to the gateway grants of 0014 (stream/authorization.py). Only the CHECK changes.
ALTER TABLE reading DROP CONSTRAINT reading_source_check;
ALTER TABLE reading ADD CONSTRAINT reading_source_check
    CHECK (source IN ('modbus', 'opcua', 'mqtt', 'ems'));

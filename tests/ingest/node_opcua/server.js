// A node-opcua server for tests/ingest/test_opcua.py: a second OPC UA implementation, not ours.
// Usage: node server.js PORT PKI_DIR. Listens on 127.0.0.1 only, prints "READY <endpoint>".
// Variables ns=1;s=Meter.Counter<i> (i = 0..11) count up every 100 ms; ns=1;s=Meter.Broken
// always reports BadSensorFailure. OperationLimits are advertised as 5 per call.
"use strict";
const path = require("path");
const {
  OPCUAServer,
  OPCUACertificateManager,
  DataType,
  Variant,
  StatusCodes,
  SecurityPolicy,
  MessageSecurityMode,
} = require("node-opcua");

async function main() {
  const port = parseInt(process.argv[2], 10);
  const pki = process.argv[3];
  const server = new OPCUAServer({
    port,
    host: "127.0.0.1",
    hostname: "127.0.0.1",
    securityPolicies: [SecurityPolicy.None],
    securityModes: [MessageSecurityMode.None],
    serverCertificateManager: new OPCUACertificateManager({
      rootFolder: path.join(pki, "pki"),
      automaticallyAcceptUnknownCertificate: true,
    }),
    serverCapabilities: {
      maxBrowseContinuationPoints: 10,
      operationLimits: { maxNodesPerRead: 5, maxMonitoredItemsPerCall: 5 },
    },
  });
  await server.initialize();
  const addressSpace = server.engine.addressSpace;
  const ns = addressSpace.getOwnNamespace();
  const meter = ns.addObject({ organizedBy: addressSpace.rootFolder.objects, browseName: "Meter" });
  const counters = [];
  for (let i = 0; i < 12; i++) {
    const variable = ns.addVariable({
      componentOf: meter,
      browseName: `Counter${i}`,
      nodeId: `s=Meter.Counter${i}`,
      dataType: "Double",
    });
    counters.push({ variable, value: 1000 * i });
  }
  const broken = ns.addVariable({
    componentOf: meter,
    browseName: "Broken",
    nodeId: "s=Meter.Broken",
    dataType: "Double",
  });
  const tick = () => {
    const now = new Date();
    for (const c of counters) {
      c.value += 1;
      c.variable.setValueFromSource(
        new Variant({ dataType: DataType.Double, value: c.value }),
        StatusCodes.Good,
        now,
      );
    }
    broken.setValueFromSource(
      new Variant({ dataType: DataType.Double, value: 0 }),
      StatusCodes.BadSensorFailure,
      now,
    );
  };
  tick();
  setInterval(tick, 100);
  await server.start();
  console.log(`READY ${server.getEndpointUrl()}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

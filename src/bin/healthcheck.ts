/**
 * A container's health check: `node dist/src/bin/healthcheck.js [PORT]`. Asks the process on
 * 127.0.0.1 for `grpc.health.v1.Health/Check` over gRPC and exits 0 when it is SERVING, 1
 * otherwise. The port is the first argument, else HEALTHCHECK_PORT, else PORT, else 50051.
 * Kubernetes probes gRPC health natively; this is for Docker and compose, which cannot.
 */
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "../../gen/health/v1/health_pb.js";

const DEADLINE_MS = 3_000;

// Empty counts as unset, as it does in the configuration.
const port = process.argv[2] || process.env.HEALTHCHECK_PORT || process.env.PORT || "50051";
process.exitCode = 1;
if (!/^\d{1,5}$/.test(port) || Number(port) > 65_535) {
  process.stdout.write(`healthcheck: "${port}" is not a port number\n`);
} else {
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  try {
    const { status } = await health.check({}, { timeoutMs: DEADLINE_MS });
    process.stdout.write(`health on port ${port}: ${ServingStatus[status]}\n`);
    if (status === ServingStatus.SERVING) process.exitCode = 0;
  } catch (error) {
    const failure = ConnectError.from(error);
    process.stdout.write(`health on port ${port}: ${Code[failure.code]}: ${failure.rawMessage}\n`);
  }
}

import type { ConnectRouter } from "@connectrpc/connect";
import { buildApiServer } from "../../src/api/api-server.js";
import { loadDescriptorRegistry } from "../../src/rpc/reflection.js";
import { createRpcServer, type RpcServer } from "../../src/rpc/rpc-server.js";
import { testLogger } from "./silent-logger.js";

export interface ListeningServer {
  server: RpcServer;
  baseUrl: string;
  port: number;
}

const descriptors = loadDescriptorRegistry();

/** The real shop API server, listening on a free port of 127.0.0.1. */
export async function startApiServer(): Promise<ListeningServer> {
  return listen(buildApiServer({ descriptors, logger: testLogger, shutdownGraceMs: 5_000 }));
}

/** Our server infrastructure around routes a test controls. */
export async function startServerWith(
  routes: (router: ConnectRouter) => void,
  options: { shutdownGraceMs?: number } = {},
): Promise<ListeningServer> {
  return listen(
    createRpcServer({
      routes,
      errorDomain: "shop.v1",
      descriptors,
      logger: testLogger,
      shutdownGraceMs: options.shutdownGraceMs ?? 5_000,
    }),
  );
}

async function listen(server: RpcServer): Promise<ListeningServer> {
  const port = await server.start(0, "127.0.0.1");
  return { server, port, baseUrl: `http://127.0.0.1:${port}` };
}

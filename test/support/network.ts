import net from "node:net";
import { networkInterfaces } from "node:os";

/**
 * Ports free on 127.0.0.1 right now, all different: for processes that must be told their
 * ports in advance (`npm start` runs a gateway the API finds by PAYMENT_GATEWAY_PORT).
 */
export async function freePorts(count: number): Promise<number[]> {
  const probes = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const probe = net.createServer().once("error", reject);
          probe.listen(0, "127.0.0.1", () => resolve(probe));
        }),
    ),
  );
  const ports = probes.map((probe) => (probe.address() as net.AddressInfo).port);
  await Promise.all(probes.map((probe) => new Promise((resolve) => probe.close(resolve))));
  return ports;
}

/** Whether anything accepts connections on port of host. */
export function isListening(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net
      .connect(port, host, () => {
        socket.destroy();
        resolve(true);
      })
      .once("error", () => resolve(false));
  });
}

/** An IPv4 address of this machine other machines could use, if it has one: as near as a test gets to another machine. */
export function ownNetworkAddress(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((address) => address?.family === "IPv4" && !address.internal)?.address;
}

import net from "node:net";

/** The ports a process is about to listen on, by the variable that sets each. */
export type Ports = Partial<Record<string, number>>;

/**
 * Why the process could not listen on these ports of `host`, in one line a person can act on,
 * or undefined when it can: each port is tried, then let go, before anything else starts (and
 * before any state is created). Port 0 (any free port) is always free.
 */
export async function listenProblem(ports: Ports, host: string): Promise<string | undefined> {
  const failures: { variable: string; port: number; code: string }[] = [];
  for (const [variable, port] of Object.entries(ports)) {
    if (port === undefined || port === 0) continue;
    const code = await tryListening(port, host);
    if (code !== undefined) failures.push({ variable, port, code });
  }
  const taken = failures.filter((failure) => failure.code === "EADDRINUSE");
  if (taken.length > 0) return inUse(taken, host);
  const [failure] = failures;
  if (failure === undefined) return undefined;
  if (failure.code === "EADDRNOTAVAIL") {
    return `HOST ${host} is not an address of this machine: use 127.0.0.1 (this machine only) or :: (every interface).`;
  }
  return `cannot listen on ${failure.variable} ${failure.port} of ${host}: ${failure.code}.`;
}

/** Most often, the ports of an `npm start` left running in another terminal. */
function inUse(taken: { variable: string; port: number }[], host: string): string {
  const [first] = taken;
  const one = taken.length === 1;
  return (
    `${list(taken.map(({ variable, port }) => `${variable} ${port}`))} on ${host} ${one ? "is" : "are"} already in use: ` +
    `another \`npm start\` (or one of its servers) is probably running. ` +
    `Stop it, or set ${one ? `${first?.variable} to a free port` : "those variables to free ports"}.`
  );
}

/** The error code of listening on host:port, or undefined when it worked. */
function tryListening(port: number, host: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "unknown error"));
    probe.listen({ port, host, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? "") : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

import { isIP } from "node:net";

/** Addresses that listen on every interface of the machine, IPv4 only or IPv6 and IPv4. */
const EVERY_INTERFACE = ["0.0.0.0", "::"];

/** Whether an address is this machine's loopback: 127.0.0.0/8, ::1, or 127.x mapped into IPv6. */
export function isLoopback(host: string): boolean {
  const ipv4 = host.replace(/^::ffff:/, "");
  return host === "::1" || (isIP(ipv4) === 4 && ipv4.startsWith("127."));
}

/**
 * How a URL names a server listening on `host` for a client on this machine: a server on every
 * interface answers on 127.0.0.1 too, and an IPv6 address goes in brackets.
 */
export function localUrlHost(host: string): string {
  if (EVERY_INTERFACE.includes(host)) return "127.0.0.1";
  return isIP(host) === 6 ? `[${host}]` : host;
}

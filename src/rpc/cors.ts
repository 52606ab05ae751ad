import type http from "node:http";
import type http2 from "node:http2";
import { cors } from "@connectrpc/connect";
import { CORRELATION_ID_HEADER } from "./correlation-id.js";

const ALLOWED_METHODS = cors.allowedMethods.join(", ");
const ALLOWED_HEADERS = [...cors.allowedHeaders, "Authorization", CORRELATION_ID_HEADER].join(", ");
const EXPOSED_HEADERS = [...cors.exposedHeaders, CORRELATION_ID_HEADER].join(", ");
const PREFLIGHT_CACHE_SECONDS = "7200";

type Request = http.IncomingMessage | http2.Http2ServerRequest;
type Response = http.ServerResponse | http2.Http2ServerResponse;

/**
 * Lets browsers on any origin (Buf Studio at https://buf.build, a shop's front end) call us.
 * Any origin is safe to allow because credentials travel in the Authorization header, which
 * a page can only send deliberately, never as ambient cookies.
 *
 * Returns true when it answered the request itself (a preflight).
 */
export function applyCors(req: Request, res: Response): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return false;
  res.setHeader("access-control-allow-origin", origin);
  res.setHeader("vary", "Origin");
  if (req.method === "OPTIONS" && req.headers["access-control-request-method"] !== undefined) {
    res.setHeader("access-control-allow-methods", ALLOWED_METHODS);
    res.setHeader("access-control-allow-headers", ALLOWED_HEADERS);
    res.setHeader("access-control-max-age", PREFLIGHT_CACHE_SECONDS);
    res.statusCode = 204;
    res.end();
    return true;
  }
  res.setHeader("access-control-expose-headers", EXPOSED_HEADERS);
  return false;
}

import { fileURLToPath } from "node:url";
import type { DescFile, FileRegistry } from "@bufbuild/protobuf";
import nunjucks from "nunjucks";
import type { PageHandler } from "../rpc/cleartext-server.js";

const PAGES_DIR = fileURLToPath(new URL("../../templates/landing-page/", import.meta.url));
/** A page of our own: no scripts, nothing loaded from elsewhere. */
const PAGE_POLICY = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'";

/**
 * The page at / of the shop API's port, in development: what the port serves, each service
 * and call with the first sentence of its proto comment (the one description of each), the
 * commands to try it, and links to the development mailbox and Buf Studio.
 */
export function createLandingPage(options: {
  descriptors: FileRegistry;
  /** Full names of the services the API serves, as the page lists them. */
  services: readonly string[];
  shopName: string;
  /** Whether the development mailbox is served at /mailbox. */
  mailbox: boolean;
}): PageHandler {
  const pages = new nunjucks.Environment(new nunjucks.FileSystemLoader(PAGES_DIR), {
    autoescape: true,
    throwOnUndefined: true,
  });
  const services = options.services.map((typeName) => {
    const service = options.descriptors.getService(typeName);
    if (service === undefined) throw new Error(`no descriptor for ${typeName}`);
    const index = service.file.services.indexOf(service);
    return {
      name: service.typeName,
      file: service.file.name,
      summary: firstSentence(leadingComment(service.file, [6, index])),
      methods: service.methods.map((method, methodIndex) => ({
        name: method.name,
        summary: firstSentence(leadingComment(service.file, [6, index, 2, methodIndex])),
      })),
    };
  });

  return (req, res) => {
    const url = URL.parse(req.url ?? "/", "http://page");
    if (url?.pathname !== "/" || (req.method !== "GET" && req.method !== "HEAD")) return false;
    const host = req.headers.host ?? req.headers[":authority"];
    const address = typeof host === "string" && /^[\w.:[\]-]+$/.test(host) ? host : "127.0.0.1:50051";
    res.statusCode = 200;
    res.setHeader("content-type", "text/html; charset=utf-8");
    res.setHeader("content-security-policy", PAGE_POLICY);
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("cache-control", "no-store");
    if (req.method === "HEAD") res.end();
    else
      res.end(
        pages.render("index.html.njk", { shopName: options.shopName, services, mailbox: options.mailbox, address }),
      );
    return true;
  };
}

/** The comment before a declaration: `path` as in google.protobuf.SourceCodeInfo. */
function leadingComment(file: DescFile, path: number[]): string {
  const location = file.proto.sourceCodeInfo?.location.find(
    (candidate) => candidate.path.length === path.length && candidate.path.every((step, i) => step === path[i]),
  );
  return location?.leadingComments ?? "";
}

function firstSentence(comment: string): string {
  const paragraph = comment.trim().split(/\n\s*\n/)[0] ?? "";
  const text = paragraph.replace(/\s+/g, " ");
  return /^.*?\.(?=\s|$)/.exec(text)?.[0] ?? text;
}

import http from "node:http";
import type { AddressInfo } from "node:net";
import { BinaryReader, type WireType } from "@bufbuild/protobuf/wire";

/** One span as a receiver decoded it, whichever encoding it came in. */
export interface ReceivedSpan {
  /** The `service.name` of the resource that sent it. */
  service: string;
  traceId: string;
  spanId: string;
  /** Empty for a root span. */
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  /** OTLP's status code: 0 unset, 1 ok, 2 error. */
  statusCode: number;
  /** How the request that carried it was encoded. */
  encoding: "json" | "protobuf";
}

export interface OtlpReceiver {
  /** What OTEL_EXPORTER_OTLP_ENDPOINT names. */
  endpoint: string;
  spans: ReceivedSpan[];
  /** The names of the metrics pushed to /v1/metrics in JSON, by the `service.name` that pushed them. */
  metrics: Map<string, Set<string>>;
  stop(): Promise<void>;
}

/**
 * An OTLP/HTTP receiver, as a collector or Jaeger runs one: it accepts
 * ExportTraceServiceRequest at /v1/traces in both encodings the exporters speak,
 * `application/json` and `application/x-protobuf`, and decodes every span; and it notes the
 * names of the metrics pushed to /v1/metrics in JSON.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metrics = new Map<string, Set<string>>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const json = (req.headers["content-type"] ?? "").startsWith("application/json");
      if (req.url === "/v1/traces") spans.push(...(json ? spansOfJson(body) : spansOfProtobuf(body)));
      if (req.url === "/v1/metrics" && json) {
        for (const [service, names] of metricNamesOfJson(body)) {
          metrics.set(service, new Set([...(metrics.get(service) ?? []), ...names]));
        }
      }
      res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" });
      res.end(json ? "{}" : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    spans,
    metrics,
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

type JsonValue = { stringValue?: string; intValue?: number | string; boolValue?: boolean; doubleValue?: number };
type JsonAttribute = { key: string; value: JsonValue };

function spansOfJson(body: Buffer): ReceivedSpan[] {
  const request = JSON.parse(body.toString()) as {
    resourceSpans: {
      resource: { attributes: JsonAttribute[] };
      scopeSpans: {
        spans: {
          traceId: string;
          spanId: string;
          parentSpanId?: string;
          name: string;
          kind: number;
          attributes?: JsonAttribute[];
          status?: { code?: number };
        }[];
      }[];
    }[];
  };
  return request.resourceSpans.flatMap(({ resource, scopeSpans }) => {
    const service = String(attributesOf(resource.attributes)["service.name"]);
    return scopeSpans.flatMap(({ spans }) =>
      spans.map((span) => ({
        service,
        traceId: span.traceId,
        spanId: span.spanId,
        parentSpanId: span.parentSpanId ?? "",
        name: span.name,
        kind: span.kind,
        attributes: attributesOf(span.attributes ?? []),
        statusCode: span.status?.code ?? 0,
        encoding: "json" as const,
      })),
    );
  });
}

function metricNamesOfJson(body: Buffer): [string, string[]][] {
  const request = JSON.parse(body.toString()) as {
    resourceMetrics: { resource: { attributes: JsonAttribute[] }; scopeMetrics: { metrics: { name: string }[] }[] }[];
  };
  return request.resourceMetrics.map(({ resource, scopeMetrics }) => [
    String(attributesOf(resource.attributes)["service.name"]),
    scopeMetrics.flatMap(({ metrics }) => metrics.map((metric) => metric.name)),
  ]);
}

function attributesOf(attributes: JsonAttribute[]): Record<string, string | number | boolean> {
  return Object.fromEntries(
    attributes.map(({ key, value }) => [
      key,
      value.stringValue ??
        (value.intValue === undefined ? undefined : Number(value.intValue)) ??
        value.boolValue ??
        value.doubleValue ??
        "",
    ]),
  );
}

/**
 * The fields of opentelemetry/proto/collector/trace/v1 read here, by number, from the wire
 * format: request.resource_spans(1) { resource(1) { attributes(1) }, scope_spans(2) { spans(2) } }.
 */
function spansOfProtobuf(body: Buffer): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  forEachField(body, (field, reader) => {
    if (field !== 1) return false;
    let service = "";
    const scopeSpans: Uint8Array[] = [];
    forEachField(reader.bytes(), (resourceSpansField, inner) => {
      if (resourceSpansField === 1) {
        forEachField(inner.bytes(), (resourceField, resource) => {
          if (resourceField !== 1) return false;
          const [key, value] = keyValueOf(resource.bytes());
          if (key === "service.name") service = String(value);
          return true;
        });
        return true;
      }
      if (resourceSpansField === 2) {
        scopeSpans.push(inner.bytes());
        return true;
      }
      return false;
    });
    for (const scope of scopeSpans) {
      forEachField(scope, (scopeField, inner) => {
        if (scopeField !== 2) return false;
        spans.push({ ...spanOf(inner.bytes()), service });
        return true;
      });
    }
    return true;
  });
  return spans;
}

function spanOf(bytes: Uint8Array): Omit<ReceivedSpan, "service"> {
  const span: Omit<ReceivedSpan, "service"> = {
    traceId: "",
    spanId: "",
    parentSpanId: "",
    name: "",
    kind: 0,
    attributes: {},
    statusCode: 0,
    encoding: "protobuf",
  };
  const hex = (value: Uint8Array) => Buffer.from(value).toString("hex");
  forEachField(bytes, (field, reader) => {
    switch (field) {
      case 1:
        span.traceId = hex(reader.bytes());
        return true;
      case 2:
        span.spanId = hex(reader.bytes());
        return true;
      case 4:
        span.parentSpanId = hex(reader.bytes());
        return true;
      case 5:
        span.name = reader.string();
        return true;
      case 6:
        span.kind = reader.int32();
        return true;
      case 9: {
        const [key, value] = keyValueOf(reader.bytes());
        span.attributes[key] = value;
        return true;
      }
      case 15:
        forEachField(reader.bytes(), (statusField, status) => {
          if (statusField !== 3) return false;
          span.statusCode = status.int32();
          return true;
        });
        return true;
      default:
        return false;
    }
  });
  return span;
}

/** A KeyValue { key(1), value(2): AnyValue { string(1), bool(2), int(3), double(4) } }. */
function keyValueOf(bytes: Uint8Array): [string, string | number | boolean] {
  let key = "";
  let value: string | number | boolean = "";
  forEachField(bytes, (field, reader) => {
    if (field === 1) key = reader.string();
    else if (field === 2) {
      forEachField(reader.bytes(), (valueField, any) => {
        if (valueField === 1) value = any.string();
        else if (valueField === 2) value = any.bool();
        else if (valueField === 3) value = Number(any.int64());
        else if (valueField === 4) value = any.double();
        else return false;
        return true;
      });
    } else return false;
    return true;
  });
  return [key, value];
}

/** Calls `read` for each field; a field it does not read (returns false) is skipped. */
function forEachField(bytes: Uint8Array, read: (field: number, reader: BinaryReader) => boolean): void {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    const at = reader.pos;
    if (!read(field, reader)) {
      reader.pos = at;
      reader.skip(wireType as WireType, field);
    }
  }
}

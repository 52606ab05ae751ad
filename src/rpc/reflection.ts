import { readFileSync } from "node:fs";
import { create, createFileRegistry, type DescFile, type FileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ConnectRouter } from "@connectrpc/connect";
import * as v1 from "../../gen/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * Written by `npm run generate` with `buf build`: every file we serve, with its comments,
 * so grpcurl, `buf curl` and Buf Studio show our documentation, not just our types.
 */
const DESCRIPTOR_SET_URL = new URL("../../gen/descriptor-set.binpb", import.meta.url);

export const REFLECTION_SERVICE_NAMES = [v1.ServerReflection.typeName, v1alpha.ServerReflection.typeName];

export function loadDescriptorRegistry(): FileRegistry {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, readFileSync(DESCRIPTOR_SET_URL)));
}

/** The version-neutral request: v1 and v1alpha share every field. */
type ReflectionRequest = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
/** Plain initialisers, so one answer builds both versions' responses. */
type Answer =
  | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
  | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
  | { case: "listServicesResponse"; value: { service: { name: string }[] } }
  | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };

/**
 * gRPC server reflection, both `grpc.reflection.v1` and the `v1alpha` that older clients
 * (grpcurl before 1.8.8, grpcui) still ask for, answered from the same descriptors.
 */
export function registerReflection(
  router: ConnectRouter,
  registry: FileRegistry,
  draining: AbortSignal,
  serviceNames: () => readonly string[],
): void {
  const answerer = createReflectionAnswerer(registry, serviceNames);
  router.service(v1.ServerReflection, {
    async *serverReflectionInfo(requests) {
      const answer = answerer();
      for await (const request of untilAborted(requests, draining)) {
        yield create(v1.ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answer(request),
        });
      }
    },
  });
  router.service(v1alpha.ServerReflection, {
    async *serverReflectionInfo(requests) {
      const answer = answerer();
      for await (const request of untilAborted(requests, draining)) {
        yield create(v1alpha.ServerReflectionResponseSchema, {
          validHost: request.host,
          originalRequest: request,
          messageResponse: answer(request),
        });
      }
    },
  });
}

/**
 * The requests of a stream until the signal aborts: clients such as grpcui keep reflection
 * streams open indefinitely, which must not hold a stopping server for its whole grace period.
 */
async function* untilAborted<T>(requests: AsyncIterable<T>, signal: AbortSignal): AsyncGenerator<T> {
  const iterator = requests[Symbol.asyncIterator]();
  const aborted = new Promise<IteratorResult<T>>((resolve) => {
    const end = () => resolve({ done: true, value: undefined });
    if (signal.aborted) end();
    else signal.addEventListener("abort", end, { once: true });
  });
  while (true) {
    const next = await Promise.race([iterator.next(), aborted]);
    if (next.done) return;
    yield next.value;
  }
}

/**
 * Returns a per-stream answer function. A requested file is always sent; its dependencies
 * only if not already sent on this stream, as grpc-go's server does.
 */
function createReflectionAnswerer(registry: FileRegistry, serviceNames: () => readonly string[]) {
  return () => {
    const sent = new Set<string>();

    /** The file followed by those of its transitive dependencies not yet sent on this stream. */
    const filesFrom = (file: DescFile): Answer => {
      const fileDescriptorProto: Uint8Array[] = [];
      const visit = (f: DescFile, requested: boolean) => {
        if (sent.has(f.name) && !requested) return;
        sent.add(f.name);
        fileDescriptorProto.push(toBinary(FileDescriptorProtoSchema, f.proto));
        for (const dependency of f.dependencies) visit(dependency, false);
      };
      visit(file, true);
      return { case: "fileDescriptorResponse", value: { fileDescriptorProto } };
    };

    const notFound = (what: string): Answer => ({
      case: "errorResponse",
      value: { errorCode: Code.NotFound, errorMessage: `${what} not found` },
    });

    return (request: ReflectionRequest): Answer => {
      const { messageRequest } = request;
      switch (messageRequest.case) {
        case "listServices":
          return {
            case: "listServicesResponse",
            value: { service: serviceNames().map((name) => ({ name })) },
          };
        case "fileByFilename": {
          const file = registry.getFile(messageRequest.value);
          return file ? filesFrom(file) : notFound(`file "${messageRequest.value}"`);
        }
        case "fileContainingSymbol": {
          const file = fileContainingSymbol(registry, messageRequest.value);
          return file ? filesFrom(file) : notFound(`symbol "${messageRequest.value}"`);
        }
        case "fileContainingExtension": {
          const { containingType, extensionNumber } = messageRequest.value;
          const extendee = registry.getMessage(containingType);
          const extension = extendee && registry.getExtensionFor(extendee, extensionNumber);
          return extension
            ? filesFrom(extension.file)
            : notFound(`extension ${extensionNumber} of "${containingType}"`);
        }
        case "allExtensionNumbersOfType": {
          const typeName = messageRequest.value;
          if (!registry.getMessage(typeName)) return notFound(`type "${typeName}"`);
          const extensionNumber: number[] = [];
          for (const type of registry) {
            if (type.kind === "extension" && type.extendee.typeName === typeName) extensionNumber.push(type.number);
          }
          return { case: "allExtensionNumbersResponse", value: { baseTypeName: typeName, extensionNumber } };
        }
        default:
          return {
            case: "errorResponse",
            value: { errorCode: Code.InvalidArgument, errorMessage: "empty or unknown reflection request" },
          };
      }
    };
  };
}

/** Symbols name types, services, methods and fields; the last two live in their parent's file. */
function fileContainingSymbol(registry: FileRegistry, symbol: string): DescFile | undefined {
  const direct = registry.get(symbol);
  if (direct) return direct.file;
  const parent = symbol.slice(0, Math.max(0, symbol.lastIndexOf(".")));
  const container = registry.get(parent);
  return container?.kind === "service" || container?.kind === "message" ? container.file : undefined;
}

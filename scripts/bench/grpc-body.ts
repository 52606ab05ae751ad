import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { create, type DescMessage, type MessageInitShape, toBinary } from "@bufbuild/protobuf";

/**
 * Writes one gRPC request body, a message in its length-prefixed frame (uncompressed flag,
 * uint32 length), to `dir/name.bin` for h2load's --data. Returns the path.
 */
export function writeGrpcBody<Desc extends DescMessage>(
  dir: string,
  name: string,
  schema: Desc,
  init: MessageInitShape<Desc>,
): string {
  const message = toBinary(schema, create(schema, init));
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  const path = join(dir, `${name}.bin`);
  writeFileSync(path, frame);
  return path;
}

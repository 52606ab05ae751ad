import { describe, expect, it } from "vitest";
import { createFrontendStream, type FrontendMessage } from "./pg-frontend-stream.js";

/** An untyped start-up packet: int32 length, int32 code, then the body. */
function untyped(code: number, body = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(code, 4);
  return Buffer.concat([head, body]);
}

function typed(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

const cstr = (text: string) => Buffer.from(`${text}\0`);
const int16 = (value: number) => Buffer.from([value >> 8, value & 0xff]);
const int32 = (value: number) => {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
};

const startup = untyped(196608, Buffer.concat([cstr("user"), cstr("postgres"), cstr("")]));
const session = Buffer.concat([
  startup,
  typed("Q", cstr("select 1")),
  typed("P", Buffer.concat([cstr("s1"), cstr("select $1"), int16(0)])),
  typed(
    "B",
    Buffer.concat([cstr(""), cstr("s1"), int16(0), int16(2), int32(2), Buffer.from("hi"), int32(-1), int16(0)]),
  ),
  typed("E", Buffer.concat([cstr(""), int32(0)])),
  typed("S", Buffer.alloc(0)),
]);
const expected: FrontendMessage[] = [
  { type: "startup" },
  { type: "query", sql: "select 1" },
  { type: "parse", statementName: "s1", sql: "select $1" },
  { type: "bind", portalName: "", statementName: "s1", parameters: ["hi", null] },
  { type: "sync" },
];

function read(chunks: Buffer[]): FrontendMessage[] {
  const messages: FrontendMessage[] = [];
  const stream = createFrontendStream((message) => messages.push(message));
  for (const chunk of chunks) stream.push(chunk);
  return messages;
}

describe("the frontend stream", () => {
  it("when a whole session arrives in one chunk, then every message is read", () => {
    expect(read([session])).toEqual(expected);
  });

  it("when the session arrives one byte at a time, then the same messages are read", () => {
    expect(read([...session].map((byte) => Buffer.from([byte])))).toEqual(expected);
  });

  it("when the server refuses TLS ('N'), then the start-up that follows is read in cleartext", () => {
    const messages: FrontendMessage[] = [];
    const stream = createFrontendStream((message) => messages.push(message));
    stream.push(untyped(80877103));
    expect(stream.awaitingEncryptionAnswer).toBe(true);
    stream.serverAnswered("N".charCodeAt(0));
    stream.push(session);
    expect(messages).toEqual([{ type: "ssl-request" }, ...expected]);
  });

  it("when the server accepts TLS ('S'), then nothing more is parsed", () => {
    const messages: FrontendMessage[] = [];
    const stream = createFrontendStream((message) => messages.push(message));
    stream.push(untyped(80877103));
    stream.serverAnswered("S".charCodeAt(0));
    stream.push(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5]));
    expect(stream.opaque).toBe(true);
    expect(messages).toEqual([{ type: "ssl-request" }]);
  });

  it("when a cancel request arrives, then it is reported and nothing else", () => {
    expect(read([untyped(80877102, Buffer.alloc(8))])).toEqual([{ type: "cancel-request" }]);
  });
});

/**
 * Reads the frontend (client → server) half of a PostgreSQL protocol 3 connection, as the
 * bytes arrive in whatever chunks TCP delivers, and reports the messages that cost a round
 * trip or name a statement. See https://www.postgresql.org/docs/current/protocol-message-formats.html.
 */

/** What one frontend message told us; messages that matter to no count are not reported. */
export type FrontendMessage =
  | { type: "startup" }
  | { type: "ssl-request" }
  | { type: "gssenc-request" }
  | { type: "cancel-request" }
  | { type: "query"; sql: string }
  | { type: "parse"; statementName: string; sql: string }
  | { type: "bind"; portalName: string; statementName: string; parameters: (string | null)[] }
  | { type: "sync" };

export interface FrontendStream {
  /** Feeds the next chunk the client sent, exactly as sent. */
  push(chunk: Buffer): void;
  /**
   * Feeds the first bytes the server sent after an SSLRequest or GSSENCRequest: "N" (refused)
   * means the client goes on in cleartext; anything else means encryption, which we cannot read.
   */
  serverAnswered(firstByte: number): void;
  /** Whether the stream waits for the server's answer to an SSLRequest or GSSENCRequest. */
  readonly awaitingEncryptionAnswer: boolean;
  /** Whether the connection went encrypted, so nothing more is parsed. */
  readonly opaque: boolean;
}

const SSL_REQUEST_CODE = 80877103;
const GSSENC_REQUEST_CODE = 80877104;
const CANCEL_REQUEST_CODE = 80877102;

export function createFrontendStream(onMessage: (message: FrontendMessage) => void): FrontendStream {
  /** Chunks received but not yet consumed, and their total length: concatenated only when a message is whole. */
  let chunks: Buffer[] = [];
  let buffered = 0;
  /** Before the StartupMessage, packets are untyped: int32 length, then an int32 code. */
  let untyped = true;
  let awaitingEncryptionAnswer = false;
  let opaque = false;

  function take(length: number): Buffer {
    const all = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, buffered);
    const rest = all.subarray(length);
    chunks = rest.length > 0 ? [rest] : [];
    buffered = rest.length;
    return all.subarray(0, length);
  }

  /** The int32 at `offset`, read without joining the chunks (a large message arrives in many). */
  function peekInt32(offset: number): number | undefined {
    if (buffered < offset + 4) return undefined;
    const head = Buffer.alloc(offset + 4);
    let copied = 0;
    for (const chunk of chunks) {
      copied += chunk.copy(head, copied, 0, Math.min(chunk.length, head.length - copied));
      if (copied === head.length) break;
    }
    return head.readInt32BE(offset);
  }

  function drain(): void {
    while (!opaque && !awaitingEncryptionAnswer) {
      if (untyped) {
        const length = peekInt32(0);
        if (length === undefined || buffered < length) return;
        const packet = take(length);
        readUntyped(packet.readInt32BE(4));
      } else {
        const length = peekInt32(1); // the type byte, then a length that counts itself
        if (length === undefined || buffered < 1 + length) return;
        readTyped(take(1 + length));
      }
    }
  }

  function readUntyped(code: number): void {
    if (code === SSL_REQUEST_CODE) {
      awaitingEncryptionAnswer = true;
      onMessage({ type: "ssl-request" });
    } else if (code === GSSENC_REQUEST_CODE) {
      awaitingEncryptionAnswer = true;
      onMessage({ type: "gssenc-request" });
    } else if (code === CANCEL_REQUEST_CODE) {
      onMessage({ type: "cancel-request" });
    } else {
      untyped = false;
      onMessage({ type: "startup" });
    }
  }

  function readTyped(message: Buffer): void {
    const type = String.fromCharCode(message[0] as number);
    const body = message.subarray(5);
    if (type === "Q") {
      onMessage({ type: "query", sql: cString(body, 0).value });
    } else if (type === "P") {
      const name = cString(body, 0);
      onMessage({ type: "parse", statementName: name.value, sql: cString(body, name.next).value });
    } else if (type === "B") {
      onMessage({ type: "bind", ...readBind(body) });
    } else if (type === "S") {
      onMessage({ type: "sync" });
    }
  }

  return {
    push(chunk) {
      if (opaque) return;
      chunks.push(chunk);
      buffered += chunk.length;
      drain();
    },
    serverAnswered(firstByte) {
      if (!awaitingEncryptionAnswer) return;
      awaitingEncryptionAnswer = false;
      if (firstByte !== "N".charCodeAt(0)) {
        opaque = true;
        chunks = [];
        buffered = 0;
        return;
      }
      drain();
    },
    get awaitingEncryptionAnswer() {
      return awaitingEncryptionAnswer;
    },
    get opaque() {
      return opaque;
    },
  };
}

function cString(buffer: Buffer, offset: number): { value: string; next: number } {
  const end = buffer.indexOf(0, offset);
  return { value: buffer.toString("utf8", offset, end), next: end + 1 };
}

/** Parameters sent in text format as text; binary ones as `\x` and their hex (as PostgreSQL writes bytea). */
function readBind(body: Buffer): { portalName: string; statementName: string; parameters: (string | null)[] } {
  const portal = cString(body, 0);
  const statement = cString(body, portal.next);
  let offset = statement.next;
  const formatCount = body.readInt16BE(offset);
  offset += 2;
  const formats: number[] = [];
  for (let i = 0; i < formatCount; i++, offset += 2) formats.push(body.readInt16BE(offset));
  const parameterCount = body.readInt16BE(offset);
  offset += 2;
  const parameters: (string | null)[] = [];
  for (let i = 0; i < parameterCount; i++) {
    const length = body.readInt32BE(offset);
    offset += 4;
    if (length === -1) {
      parameters.push(null);
      continue;
    }
    const value = body.subarray(offset, offset + length);
    offset += length;
    // One format code applies to every parameter; none means all text.
    const binary = (formatCount === 1 ? formats[0] : formats[i]) === 1;
    parameters.push(binary ? `\\x${value.toString("hex")}` : value.toString("utf8"));
  }
  return { portalName: portal.value, statementName: statement.value, parameters };
}

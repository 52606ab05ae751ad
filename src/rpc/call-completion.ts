import type { Interceptor, StreamResponse } from "@connectrpc/connect";

type Call = ReturnType<Interceptor>;
type CallRequest = Parameters<Call>[0];
type CallResponse = Awaited<ReturnType<Call>>;

/**
 * Runs a call through `next` and tells `done` once when it ends: when a unary call returns or
 * throws, or when a streaming response ends, fails, or is abandoned by its consumer. `done` gets
 * what the call failed with: the reason it was aborted (cancelled, past its deadline, cut off by
 * shutdown) whatever the interrupted code threw, else what it threw, else undefined. The
 * interceptors that observe calls (the access log, telemetry) share this one account of a
 * call's end.
 */
export async function whenCallEnds(
  next: Call,
  req: CallRequest,
  done: (failure: unknown) => void,
  /** Wraps each step of a streaming response (the telemetry's scope). */
  around: <T>(step: () => Promise<T>) => Promise<T> = (step) => step(),
): Promise<CallResponse> {
  const end = (thrown?: unknown) => done(req.signal.aborted ? req.signal.reason : thrown);
  let res: CallResponse;
  try {
    res = await next(req);
  } catch (thrown) {
    end(thrown);
    throw thrown;
  }
  if (!res.stream) {
    end();
    return res;
  }
  return { ...res, message: endingWithStream(res.message, end, around) } satisfies StreamResponse;
}

async function* endingWithStream<T>(
  messages: AsyncIterable<T>,
  end: (thrown?: unknown) => void,
  around: <S>(step: () => Promise<S>) => Promise<S>,
) {
  const iterator = messages[Symbol.asyncIterator]();
  let finished = false;
  let failure: unknown;
  try {
    for (;;) {
      const step = await around(() => iterator.next());
      if (step.done) {
        finished = true;
        return;
      }
      yield step.value;
    }
  } catch (thrown) {
    finished = true;
    failure = thrown;
    throw thrown;
  } finally {
    // Abandoned by its consumer: the stream it was reading is told to stop too.
    if (!finished) await iterator.return?.();
    end(failure);
  }
}

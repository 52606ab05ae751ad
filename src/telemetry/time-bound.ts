/**
 * What `work` resolves to if it does within `ms`, else undefined, as it does if `work` fails.
 * For metrics read from the database at each scrape: with the database slow or away, those
 * gauges are not observed (the SDK reports the values last observed), and /metrics still
 * answers: Prometheus would take a scrape that never ends for a process that is down.
 */
export async function resultWithin<T>(ms: number, work: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
    timer.unref();
  });
  try {
    return await Promise.race([work.catch(() => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

import { setTimeout as sleep } from "node:timers/promises";
import { TemporarilyUnavailable } from "../shared/domain-error.js";

/** Misbehaviour on demand, for tests and demos of how callers cope with a flaky processor. */
export interface FaultInjection {
  /**
   * Added to every Charge, Refund and GetCharge after the work is done: the charge is made,
   * its answer is slow. The most dangerous case for callers, whose deadline may pass after
   * the money moved.
   */
  latencyMs: number;
  /** Share of those calls, 0 to 1, answered UNAVAILABLE before doing anything. */
  failureRate: number;
  /** Charges never answer: they wait until the caller's deadline or cancellation. */
  hangCharges: boolean;
  /** Decides which calls fail (below failureRate); a script of values makes failures repeatable. */
  random?: () => number;
}

export const NO_FAULTS: FaultInjection = { latencyMs: 0, failureRate: 0, hangCharges: false };

/** Before the work: failures that leave nothing done. */
export async function injectFaultsBefore(
  faults: FaultInjection,
  signal: AbortSignal,
  options: { isCharge: boolean },
): Promise<void> {
  if (faults.failureRate > 0 && (faults.random ?? Math.random)() < faults.failureRate) {
    throw new TemporarilyUnavailable("INJECTED_FAULT", "the payment processor is temporarily unavailable", 100);
  }
  if (faults.hangCharges && options.isCharge) {
    await new Promise((_resolve, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
    );
  }
}

/** After the work: a slow answer. Not cut short by the caller leaving, as a real processor is not. */
export async function injectLatencyAfter(faults: FaultInjection): Promise<void> {
  if (faults.latencyMs > 0) await sleep(faults.latencyMs);
}

import type { Logger } from "../logging/logger.js";
import { startPeriodicTask } from "../shared/periodic-task.js";
import type { Orders } from "./orders.js";

/**
 * Settles stale PENDING_PAYMENT orders at start-up and then periodically, in every API
 * replica: settling is conditional on the order still being pending, so replicas that race
 * for the same order settle it once.
 */
export function startRecoveryLoop(
  orders: Orders,
  options: { intervalMs: number; pendingTimeoutMs: number; logger: Logger },
): { stop(): Promise<void> } {
  return startPeriodicTask(async () => {
    await orders.recoverPendingOrders(options.pendingTimeoutMs).catch((error: unknown) => {
      options.logger.error({ event: "order.recovery_failed", err: error }, "order recovery failed");
    });
  }, options.intervalMs);
}

import type { Job } from "../jobs/job-queue.js";
import type { OrderEvent } from "../orders/order-events.js";

/** The email worker's task; what it receives is an order id and which email to send. */
export const SEND_ORDER_EMAIL_TASK = "send_order_email";
export const ORDER_EMAIL_KINDS = ["confirmation", "cancellation"] as const;
export type OrderEmailKind = (typeof ORDER_EMAIL_KINDS)[number];

/** Retried with exponential backoff for about three days before it is reported failed. */
const MAX_ATTEMPTS = 25;

/**
 * What a job of SEND_ORDER_EMAIL_TASK receives: the email, and the scope of the call that
 * caused it, if a call did, so that the job's logs and span join that call's.
 */
export interface OrderEmailJobPayload {
  orderId: string;
  kind: OrderEmailKind;
  correlationId?: string;
  traceparent?: string;
}

/** The job that sends an order's email; its key makes it one job per email, ever queued once. */
function orderEmailJob(
  orderId: string,
  kind: OrderEmailKind,
  origin: { correlationId: string | null; traceparent: string | null } = { correlationId: null, traceparent: null },
): Job {
  const payload: OrderEmailJobPayload = {
    orderId,
    kind,
    ...(origin.correlationId !== null && { correlationId: origin.correlationId }),
    ...(origin.traceparent !== null && { traceparent: origin.traceparent }),
  };
  return {
    task: SEND_ORDER_EMAIL_TASK,
    payload: { ...payload },
    key: `order-${kind}:${orderId}`,
    maxAttempts: MAX_ATTEMPTS,
  };
}

/** The email a job key names ("order-<kind>:<order id>"), for listing jobs. */
export function orderEmailOfKey(key: string | null): { orderId: string; kind: string } {
  const [name = "", orderId = ""] = (key ?? "").split(":");
  return { orderId, kind: name.replace(/^order-/, "") };
}

const EMAIL_OF_EVENT: Record<OrderEvent["kind"], OrderEmailKind> = { paid: "confirmation", cancelled: "cancellation" };

/** The email that follows an order event: a confirmation when paid, a cancellation when cancelled. */
export function emailJobOf(event: OrderEvent): Job {
  return orderEmailJob(event.orderId, EMAIL_OF_EVENT[event.kind], event);
}

import type { EntityManager } from "@mikro-orm/postgresql";
import type { Transporter } from "nodemailer";
import type pg from "pg";
import { withAdvisoryLock } from "../db/advisory-locks.js";
import type { Logger } from "../logging/logger.js";
import { loadOrder } from "../orders/order-records.js";
import type { OrderEmailKind } from "./email-jobs.js";
import type { EmailRenderer } from "./email-templates.js";

export interface OrderEmails {
  /**
   * Sends the order's email of this kind unless it was sent already; safe to run twice, even
   * at once. Throws EmailBeingSent while another run is sending it: retry later.
   */
  send(orderId: string, kind: OrderEmailKind): Promise<"sent" | "already_sent">;
}

/** Another run is sending this email right now; a later retry will find it sent. */
export class EmailBeingSent extends Error {
  constructor(orderId: string, kind: OrderEmailKind) {
    super(`the ${kind} email of order ${orderId} is being sent by another run`);
    this.name = "EmailBeingSent";
  }
}

export function createOrderEmails(deps: {
  em: EntityManager;
  /** Connections for the send locks, each held while its email is sent. */
  lockPool: pg.Pool;
  transport: Transporter;
  renderer: EmailRenderer;
  mailFrom: string;
  logger: Logger;
}): OrderEmails {
  const senderDomain = /@([^>\s]+)/.exec(deps.mailFrom)?.[1] ?? "shop.localhost";

  return {
    async send(orderId, kind) {
      // The sent marker alone would let two runs at once both find it missing and both send.
      const locked = await withAdvisoryLock(deps.lockPool, `email:${kind}:${orderId}`, () => sendOnce(orderId, kind));
      if (!locked.acquired) throw new EmailBeingSent(orderId, kind);
      return locked.value;
    },
  };

  async function sendOnce(orderId: string, kind: OrderEmailKind): Promise<"sent" | "already_sent"> {
    const em = deps.em.fork();
    const [sent] = await em.execute<{ message_id: string }[]>(
      `select "message_id" from "email_delivery" where "order_id" = ? and "kind" = ?`,
      [orderId, kind],
    );
    if (sent) {
      deps.logger.info({ event: "email.already_sent", orderId, kind }, "email already sent");
      return "already_sent";
    }
    const order = await loadOrder(em, orderId);
    if (!order) throw new Error(`order ${orderId} not found`);
    const [customer] = await em.execute<{ email: string; display_name: string }[]>(
      `select "email", "display_name" from "app_user" where "id" = ?`,
      [order.customerId],
    );
    if (!customer) throw new Error(`customer of order ${orderId} not found`);

    const email = deps.renderer.render(kind, { order, customer: { displayName: customer.display_name } });
    // Deterministic: if a crash after sending makes the job run again, the receiving side
    // sees the same Message-ID and can drop the duplicate.
    const messageId = `<order-${kind}-${orderId}@${senderDomain}>`;
    await deps.transport.sendMail({
      from: deps.mailFrom,
      to: customer.email,
      subject: email.subject,
      html: email.html,
      text: email.text,
      messageId,
    });
    await em.execute(
      `insert into "email_delivery" ("order_id", "kind", "message_id", "sent_at") values (?, ?, ?, now())
         on conflict do nothing`,
      [orderId, kind, messageId],
    );
    deps.logger.info({ event: "email.sent", orderId, kind, messageId }, "email sent");
    return "sent";
  }
}

import type { EntityManager } from "@mikro-orm/postgresql";
import type { Transporter } from "nodemailer";
import type { Logger } from "../logging/logger.js";
import { loadOrder } from "../orders/order-records.js";
import type { OrderEmailKind } from "./email-jobs.js";
import type { EmailRenderer } from "./email-templates.js";

export interface OrderEmails {
  /** Sends the order's email of this kind unless it was sent already; safe to run twice. */
  send(orderId: string, kind: OrderEmailKind): Promise<"sent" | "already_sent">;
}

export function createOrderEmails(deps: {
  em: EntityManager;
  transport: Transporter;
  renderer: EmailRenderer;
  mailFrom: string;
  logger: Logger;
}): OrderEmails {
  const senderDomain = /@([^>\s]+)/.exec(deps.mailFrom)?.[1] ?? "shop.localhost";

  return {
    async send(orderId, kind) {
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
    },
  };
}

import type { OrderView } from "../orders/order-repository.js";

/** What every order email template sees, besides `shop` (name, supportEmail, supportUrl). */
export interface OrderEmailContext {
  order: OrderView;
  customer: { displayName: string };
}

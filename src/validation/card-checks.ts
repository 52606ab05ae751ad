import { brandOf, passesLuhn } from "../shared/card-numbers.js";
import type { RequestValidator } from "./request-validator.js";

export interface CardInput {
  number: string;
  expMonth: number;
  expYear: number;
  cvc: string;
}

export interface CheckedCard {
  /** The number without spaces. */
  digits: string;
  brand: string;
  last4: string;
  expMonth: number;
  expYear: number;
}

/**
 * The form of card details, as the shop and the payment gateway both check it: 12 to 19
 * digits passing the Luhn check, a month, a four-digit year, a 3- or 4-digit CVC. Whether the
 * card has expired depends on the time and is for the caller to decide.
 */
export function checkCard(check: RequestValidator, card: CardInput | undefined): CheckedCard {
  if (!check.present("card", card)) return { digits: "", brand: "", last4: "", expMonth: 0, expYear: 0 };
  const digits = card.number.replace(/ /g, "");
  if (!/^\d{12,19}$/.test(digits)) {
    check.violation("card.number", "must be 12 to 19 digits", "INVALID_FORMAT");
  } else if (!passesLuhn(digits)) {
    check.violation("card.number", "is not a valid card number (Luhn check failed)", "INVALID_CARD_NUMBER");
  }
  check.integer("card.exp_month", card.expMonth, { min: 1, max: 12 });
  check.integer("card.exp_year", card.expYear, { min: 2000, max: 2100 });
  if (!/^\d{3,4}$/.test(card.cvc)) check.violation("card.cvc", "must be 3 or 4 digits", "INVALID_FORMAT");
  return { digits, brand: brandOf(digits), last4: digits.slice(-4), expMonth: card.expMonth, expYear: card.expYear };
}

import { p } from "@mikro-orm/core";

/** Property builders every entity shares, so ids and timestamps mean the same everywhere. */
export const uuidPrimaryKey = () =>
  p
    .uuid()
    .primary()
    .onCreate(() => crypto.randomUUID());

export const createdAt = () =>
  p
    .datetime()
    .defaultRaw("now()")
    .onCreate(() => new Date());

export const updatedAt = () =>
  p
    .datetime()
    .defaultRaw("now()")
    .onCreate(() => new Date())
    .onUpdate(() => new Date());

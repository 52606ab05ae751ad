import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Orm } from "../../src/db/orm.js";
import { openShopDatabase } from "../../src/shop-database/shop-database.js";
import { testLogger } from "../support/silent-logger.js";

const run = promisify(execFile);
const emailJobs = (...args: string[]) =>
  run(process.execPath, ["--import", "tsx", "src/bin/email-jobs.ts", ...args], {
    env: { PATH: process.env.PATH ?? "", DATABASE_URL: inject("databaseUrl") },
  });

describe("email jobs that used up their attempts", () => {
  let orm: Orm;
  beforeAll(async () => {
    orm = await openShopDatabase(inject("databaseUrl"), testLogger);
  });
  afterAll(() => orm.close(true));

  it("are listed with their order and last error by `npm run email-jobs -- list`, and retried by `retry`", async () => {
    const orderId = randomUUID();
    // Queued far in the future so no running worker takes it, then failed for good.
    const [job] = await orm.em.fork().execute<{ id: string }[]>(
      `select id from graphile_worker.add_job('send_order_email', json_build_object('orderId', ?::text, 'kind', 'confirmation'),
         run_at => now() + interval '1 day', max_attempts => 3, job_key => ?)`,
      [orderId, `order-confirmation:${orderId}`],
    );
    await orm.em
      .fork()
      .execute("select graphile_worker.permanently_fail_jobs(array[?::bigint], 'SMTP said no')", [job?.id]);

    const listed = await emailJobs("list");
    expect(listed.stdout).toMatch(
      new RegExp(`^${job?.id}\\tconfirmation\\torder ${orderId}\\t3 attempts\\tSMTP said no$`, "m"),
    );

    const retried = await emailJobs("retry", String(job?.id));
    expect(retried.stdout).toBe(`retrying 1 job(s): ${job?.id}\n`);
    expect((await emailJobs("list")).stdout).not.toContain(orderId);
  });

  it("refuses a malformed command", async () => {
    await expect(emailJobs("retry", "not-a-number")).rejects.toMatchObject({ code: 2 });
  });
});

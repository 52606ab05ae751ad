import { readFileSync } from "node:fs";

/** The 1, 5 and 15 minute load averages, printed beside each figure: this machine is shared and noisy. */
export function loadAverage(): string {
  return readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
}

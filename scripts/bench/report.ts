/** The bench's one table: each figure with the load average when it was taken, and each goal met or not. */
export interface Report {
  figure(what: string, value: number, unit: string, loadAverage: string, note?: string): void;
  /** A measured ratio or latency against its goal: met when `met(value)`. */
  goal(
    what: string,
    value: number,
    unit: string,
    target: string,
    met: (value: number) => boolean,
    loadAverage: string,
  ): void;
  print(): string;
}

interface Row {
  what: string;
  value: string;
  goal: string;
  met: string;
  loadAverage: string;
  note: string;
}

export function createReport(): Report {
  const rows: Row[] = [];
  return {
    figure(what, value, unit, loadAverage, note = "") {
      rows.push({ what, value: format(value, unit), goal: "", met: "", loadAverage, note });
    },
    goal(what, value, unit, target, met, loadAverage) {
      const verdict = Number.isFinite(value) ? (met(value) ? "met" : "not met") : "unmeasured";
      rows.push({ what, value: format(value, unit), goal: target, met: verdict, loadAverage, note: "" });
    },
    print() {
      const header: Row = { what: "", value: "value", goal: "goal", met: "", loadAverage: "loadavg 1/5/15", note: "" };
      const columns = ["what", "value", "goal", "met", "loadAverage", "note"] as const;
      const widths = columns.map((column) => Math.max(...[header, ...rows].map((row) => row[column].length)));
      const line = (row: Row) =>
        columns
          .map((column, index) =>
            column === "value" ? row[column].padStart(widths[index] ?? 0) : row[column].padEnd(widths[index] ?? 0),
          )
          .join("  ")
          .trimEnd();
      return [line(header), ...rows.map(line)].join("\n");
    },
  };
}

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return "n/a";
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${unit}`.trimEnd();
}

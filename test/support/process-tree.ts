import { readdirSync, readFileSync } from "node:fs";

/** A process of this machine, as Linux's /proc/<pid>/stat describes it. */
interface ProcessEntry {
  pid: number;
  parentPid: number;
  /** Its command line, arguments separated by spaces. */
  command: string;
  /** R, S, D, Z (exited, not yet reaped), ... */
  state: string;
}

/** Every process descended from `pid` (children, their children, ...), running now. */
export function descendantsOf(pid: number): ProcessEntry[] {
  const all = processes();
  const found: ProcessEntry[] = [];
  const parents = [pid];
  while (parents.length > 0) {
    const parent = parents.pop();
    for (const entry of all) {
      if (entry.parentPid !== parent) continue;
      found.push(entry);
      parents.push(entry.pid);
    }
  }
  return found;
}

/** Whether a process runs: exists and has not exited. */
export function isRunning(pid: number): boolean {
  return processes().some((entry) => entry.pid === pid && entry.state !== "Z");
}

function processes(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    let command: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, "utf8");
      command = readFileSync(`/proc/${name}/cmdline`, "utf8").replaceAll("\0", " ").trim();
    } catch {
      continue; // it exited while we looked
    }
    // pid (name) state ppid ...: the name may hold spaces and parentheses itself.
    const [state = "", parentPid = ""] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    entries.push({ pid: Number(name), parentPid: Number(parentPid), command, state });
  }
  return entries;
}

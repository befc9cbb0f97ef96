import { readdirSync, readFileSync } from 'node:fs';

/** Resident memory of process trees, from /proc (Linux). */

/** VmRSS in kB from the text of /proc/<pid>/status; null when absent (e.g. a zombie). */
export function parseVmRssKb(status: string): number | null {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match?.[1] === undefined ? null : Number(match[1]);
}

/** Parent pid from the text of /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function parseStatParentPid(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  if (close === -1) return null;
  const fields = stat.slice(close + 2).split(' ');
  const ppid = Number(fields[1]);
  return Number.isInteger(ppid) ? ppid : null;
}

/** The given pids and all their descendants, from a pid → parent pid map. */
export function withDescendants(roots: readonly number[], parents: ReadonlyMap<number, number>): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, ppid] of parents) {
    const list = children.get(ppid);
    if (list === undefined) children.set(ppid, [pid]);
    else list.push(pid);
  }
  const seen = new Set<number>();
  const stack = [...roots];
  while (stack.length > 0) {
    const pid = stack.pop();
    if (pid === undefined || seen.has(pid)) continue;
    seen.add(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return [...seen].sort((a, b) => a - b);
}

function readOrNull(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

function parentMap(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readOrNull(`/proc/${entry}/stat`);
    const ppid = stat === null ? null : parseStatParentPid(stat);
    if (ppid !== null) parents.set(Number(entry), ppid);
  }
  return parents;
}

export interface MemorySample {
  /** Summed VmRSS of every live process in the trees, kB. */
  readonly rssKb: number;
  /** Per process: pid, command name, kB. */
  readonly processes: readonly { readonly pid: number; readonly command: string; readonly rssKb: number }[];
}

/** Sums VmRSS over the process trees rooted at `roots`. */
export function sampleTreeMemory(roots: readonly number[]): MemorySample {
  const processes: { pid: number; command: string; rssKb: number }[] = [];
  for (const pid of withDescendants(roots, parentMap())) {
    const status = readOrNull(`/proc/${pid}/status`);
    if (status === null) continue;
    const rss = parseVmRssKb(status);
    if (rss === null) continue;
    const command = /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?';
    processes.push({ pid, command, rssKb: rss });
  }
  return { rssKb: processes.reduce((sum, p) => sum + p.rssKb, 0), processes };
}

import { readdirSync, readFileSync } from 'node:fs';

/** Resident memory and CPU time of process trees, from /proc (Linux). */

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

/** utime + stime in clock ticks from the text of /proc/<pid>/stat. */
export function parseStatCpuTicks(stat: string): number | null {
  const close = stat.lastIndexOf(')');
  if (close === -1) return null;
  const fields = stat.slice(close + 2).split(' ');
  // After the command: state(0) ppid(1) … utime(11) stime(12).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks : null;
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

/** A root process of a server system and the name its tree is reported under. */
export interface RootProcess {
  readonly pid: number;
  readonly label: string;
}

/** Every live process of the trees, named `<root label>/<command>` (e.g. `gateway/node`). */
function treeMembers(roots: readonly RootProcess[]): { pid: number; name: string }[] {
  const parents = parentMap();
  const members: { pid: number; name: string }[] = [];
  const seen = new Set<number>();
  for (const root of roots) {
    for (const pid of withDescendants([root.pid], parents)) {
      if (seen.has(pid)) continue;
      seen.add(pid);
      const stat = readOrNull(`/proc/${pid}/stat`);
      if (stat === null) continue;
      const command = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      members.push({ pid, name: `${root.label}/${command}` });
    }
  }
  return members;
}

export interface MemorySample {
  /** Summed VmRSS of every live process in the trees, kB. */
  readonly rssKb: number;
  /** Per process: pid, `<root label>/<command>`, kB. */
  readonly processes: readonly { readonly pid: number; readonly name: string; readonly rssKb: number }[];
}

/** Sums VmRSS over the process trees of `roots`. */
export function sampleTreeMemory(roots: readonly RootProcess[]): MemorySample {
  const processes: { pid: number; name: string; rssKb: number }[] = [];
  for (const { pid, name } of treeMembers(roots)) {
    const status = readOrNull(`/proc/${pid}/status`);
    const rss = status === null ? null : parseVmRssKb(status);
    if (rss !== null) processes.push({ pid, name, rssKb: rss });
  }
  return { rssKb: processes.reduce((sum, p) => sum + p.rssKb, 0), processes };
}

/** Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat (100 on every mainstream architecture). */
const CLOCK_TICKS_PER_S = 100;

export interface CpuSample {
  readonly at: number;
  /** CPU seconds used so far, per `<root label>/<command>`. */
  readonly byName: ReadonlyMap<string, number>;
}

export function sampleTreeCpu(roots: readonly RootProcess[]): CpuSample {
  const byName = new Map<string, number>();
  for (const { pid, name } of treeMembers(roots)) {
    const stat = readOrNull(`/proc/${pid}/stat`);
    const ticks = stat === null ? null : parseStatCpuTicks(stat);
    if (ticks !== null) byName.set(name, (byName.get(name) ?? 0) + ticks / CLOCK_TICKS_PER_S);
  }
  return { at: performance.now(), byName };
}

/** CPU used between two samples, in cores (1 = one core busy), per process name and in total. */
export function cpuBetween(
  start: CpuSample,
  end: CpuSample,
): { total: number; byProcess: Record<string, number> } {
  const seconds = (end.at - start.at) / 1000;
  const byProcess: Record<string, number> = {};
  let total = 0;
  if (seconds <= 0) return { total, byProcess };
  for (const [name, used] of end.byName) {
    const cores = Math.max(0, used - (start.byName.get(name) ?? 0)) / seconds;
    byProcess[name] = Math.round(cores * 1000) / 1000;
    total += cores;
  }
  return { total: Math.round(total * 1000) / 1000, byProcess };
}

/** Busy CPU seconds of the whole machine (all cores) from the text of /proc/stat: all but idle and iowait. */
export function parseProcStatBusySeconds(procStat: string): number | null {
  const line = procStat.split('\n', 1)[0] ?? '';
  if (!line.startsWith('cpu ')) return null;
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice; guest time is already in user.
  const [user, nice, system, , , irq, softirq, steal] = fields;
  const busy = [user, nice, system, irq, softirq, steal].reduce<number>((sum, v) => sum + (v ?? 0), 0);
  return Number.isFinite(busy) ? busy / CLOCK_TICKS_PER_S : null;
}

export interface MachineCpuSample {
  readonly at: number;
  readonly busyS: number;
}

export function sampleMachineCpu(): MachineCpuSample {
  return { at: performance.now(), busyS: parseProcStatBusySeconds(readOrNull('/proc/stat') ?? '') ?? 0 };
}

/** Cores the whole machine kept busy between two samples. */
export function machineCoresBetween(start: MachineCpuSample, end: MachineCpuSample): number {
  const seconds = (end.at - start.at) / 1000;
  return seconds > 0 ? Math.round(((end.busyS - start.busyS) / seconds) * 1000) / 1000 : 0;
}

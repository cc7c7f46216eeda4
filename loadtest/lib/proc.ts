/**
 * @module
 * What the kernel says about a process: resident memory (/proc/<pid>/status VmRSS) and CPU time
 * (/proc/<pid>/stat utime + stime), plus whole-machine CPU use (/proc/stat). Linux only, which is
 * where the numbers are taken.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

let clkTck: number | undefined;
/** Clock ticks per second of /proc CPU counters (USER_HZ, almost always 100). */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

/** Resident set size in bytes. */
export function rssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** User and system CPU seconds the process has used so far. */
export function cpuTimes(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state), so utime (field 14) is rest[11] and stime (field 15) rest[12].
  return { user: Number(rest[11]) / clockTicks(), system: Number(rest[12]) / clockTicks() };
}

/** User + system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const t = cpuTimes(pid);
  return t.user + t.system;
}

export interface MachineCpu {
  busy: number;
  total: number;
}

/** Cumulative busy and total ticks over all cores; take two and divide the deltas for a utilisation. */
export function machineCpu(): MachineCpu {
  const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: idle + iowait is not busy.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

/**
 * Polls RSS until it stops moving (a GC settle): spread of the last `window` samples within
 * `tolerance` (fraction) or 64 KiB, or until `timeoutMs`. Returns the last sample.
 */
export async function settledRss(
  pid: number,
  { intervalMs = 500, window = 6, tolerance = 0.003, timeoutMs = 30_000 } = {},
): Promise<{ rss: number; stable: boolean; waitedMs: number }> {
  const t0 = Date.now();
  const samples: number[] = [];
  for (;;) {
    samples.push(rssBytes(pid));
    if (samples.length > window) samples.shift();
    const last = samples[samples.length - 1]!;
    if (samples.length === window) {
      const spread = Math.max(...samples) - Math.min(...samples);
      if (spread <= Math.max(64 * 1024, last * tolerance))
        return { rss: last, stable: true, waitedMs: Date.now() - t0 };
    }
    if (Date.now() - t0 > timeoutMs) return { rss: last, stable: false, waitedMs: Date.now() - t0 };
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `root` and every process below it (by parent pid), read from /proc now. */
export function descendants(root: number): number[] {
  const parent = new Map<number, number[]>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const list = parent.get(ppid);
      if (list) list.push(Number(name));
      else parent.set(ppid, [Number(name)]);
    } catch {
      // the process ended while we looked
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(parent.get(out[i]!) ?? []));
  return out;
}

/** CPU seconds of `root`'s whole process tree (processes that already exited are not counted). */
export function treeCpuSeconds(root: number): number {
  let s = 0;
  for (const pid of descendants(root)) {
    try {
      s += cpuSeconds(pid);
    } catch {
      // ended meanwhile
    }
  }
  return s;
}

/**
 * CPU time and memory of other processes, from Linux's /proc: the benchmark's cluster, broker and
 * Node-RED processes live across several measured runs, so their usage is taken per run as a
 * window (CPU = utime + stime, all threads, sampled; peak RSS = VmHWM after resetting it at the
 * start of the window via clear_refs, or the highest sampled VmRSS where that is refused).
 * Elsewhere every figure is NaN: the benchmark still runs, without usage.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';

const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds of a process so far (every thread), or NaN. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) in parentheses: state is field 3.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Resident set size now and its high-water mark, MB (NaN when unavailable). */
export function memoryMB(pid: number): { rss: number; hwm: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
  } catch {
    return { rss: NaN, hwm: NaN };
  }
}

/** Resets the process's peak RSS to its current RSS (Linux >= 4.0); false if refused. */
function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

export interface ProcessUsage {
  /** CPU seconds in the measured interval (see UsageWindow.stop). */
  cpuSec: number;
  peakRssMB: number;
  /** Mean of the RSS samples taken during the window. */
  meanRssMB: number;
}

interface Sample {
  at: number;
  cpu: number;
  rss: number;
}

/**
 * Usage of named processes over one window of time: start() before a run, stop() after it.
 * CPU time and RSS are sampled every `sampleMs`, so that stop() can report the CPU spent within
 * an interval of the window (the data flowing, without application start-up) by interpolation.
 */
export class UsageWindow {
  private exactPeak = new Map<string, boolean>();
  private samples = new Map<string, Sample[]>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly pids: Readonly<Record<string, number>>, private readonly sampleMs = 50) {}

  start(): this {
    for (const [name, pid] of Object.entries(this.pids)) {
      this.exactPeak.set(name, resetPeak(pid));
      this.samples.set(name, []);
    }
    this.sample();
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
    return this;
  }

  private sample(): void {
    const at = Date.now();
    for (const [name, pid] of Object.entries(this.pids)) {
      this.samples.get(name)?.push({ at, cpu: cpuSeconds(pid), rss: memoryMB(pid).rss });
    }
  }

  /**
   * Ends the window. With `interval` ([from, to], epoch ms), cpuSec is the CPU time spent between
   * those instants (interpolated between samples); without, over the whole window.
   */
  stop(interval?: readonly [number, number]): { usage: Record<string, ProcessUsage>; cpuSecTotal: Record<string, number> } {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
      this.sample();
    }
    const usage: Record<string, ProcessUsage> = {};
    const cpuSecTotal: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const samples = this.samples.get(name) ?? [];
      const rss = samples.map((s) => s.rss).filter(Number.isFinite);
      const hwm = memoryMB(pid).hwm;
      const total = samples.length ? samples[samples.length - 1].cpu - samples[0].cpu : NaN;
      cpuSecTotal[name] = round(total, 3);
      usage[name] = {
        cpuSec: round(interval ? cpuAt(samples, interval[1]) - cpuAt(samples, interval[0]) : total, 3),
        peakRssMB: round(this.exactPeak.get(name) && Number.isFinite(hwm) ? hwm : rss.length ? Math.max(...rss) : NaN, 1),
        meanRssMB: round(rss.length ? rss.reduce((a, b) => a + b, 0) / rss.length : NaN, 1),
      };
    }
    return { usage, cpuSecTotal };
  }
}

/** CPU seconds at instant `t`, linear between the samples around it (clamped to the window). */
function cpuAt(samples: readonly Sample[], t: number): number {
  if (samples.length === 0) return NaN;
  if (t <= samples[0].at) return samples[0].cpu;
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i];
    if (t <= b.at) {
      const a = samples[i - 1];
      return b.at === a.at ? b.cpu : a.cpu + ((b.cpu - a.cpu) * (t - a.at)) / (b.at - a.at);
    }
  }
  return samples[samples.length - 1].cpu;
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

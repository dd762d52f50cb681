/** What every scenario reports: rows of one shape, summarised over runs. */
import type { ProcessUsage } from './procs.js';
import { spread, type Spread } from './stats.js';

export type Role = 'transport' | 'transport-latency' | 'hand-written' | 'node-red' | 'local';

export interface Latency {
  measured: number;
  p50: number;
  p99: number;
  max: number;
}

export interface Row {
  scenario: string;
  /** The case within the scenario: "10 devices", "10,000 records/s", … */
  case: string;
  /** Records per run (offered). */
  records: number;
  runs: number;
  /** Records/s per run: records / (last arrival - first arrival), see rateOf. */
  rate: Spread | null;
  latency: Latency | null;
  /** Offered load of a paced run, records/s. */
  offeredRate?: number;
  devices?: number;
  /** Median over runs of records / CPU seconds of every process in the data-flow interval. */
  recordsPerCpuSec: number | null;
  /** Per process: CPU s (median over runs), peak RSS MB (max over runs), mean RSS MB (median). */
  processes: Record<string, ProcessUsage>;
  /** This row is a baseline the others are compared with. */
  role?: Role;
  /** One line for the table when records/s and latency do not say it (control plane, footprint). */
  headline?: string;
  /** Scenario-specific figures (control plane timings, footprint, durability cost, …). */
  extra?: Record<string, number | string | null>;
  notes?: string[];
  /** Raw figures of each run, for the JSON. */
  perRun?: RunFigures[];
}

export interface RunFigures {
  records: number;
  /** Records/s (NaN for paced runs where it is only the offered load). */
  rate: number;
  latency: Latency | null;
  usage: Record<string, ProcessUsage>;
  /** Whole-run CPU s per process (submit to results), beside the data-flow interval's. */
  cpuSecTotal?: Record<string, number>;
  wallMs?: number;
}

/**
 * Records per second from the first record's arrival on the receiving side (the cloud's window
 * operator, the baselines' subscriber) to the last arrival at the end.
 */
export function rateOf(records: number, first: number, lastArrival: number): number {
  const ms = lastArrival - first;
  return ms > 0 ? records / (ms / 1000) : NaN;
}

export function summarizeRuns(base: Omit<Row, 'runs' | 'rate' | 'latency' | 'recordsPerCpuSec' | 'processes' | 'perRun'>, runs: RunFigures[], options: { rate?: boolean } = {}): Row {
  const names = [...new Set(runs.flatMap((r) => Object.keys(r.usage)))];
  const processes: Record<string, ProcessUsage> = {};
  for (const name of names) {
    const u = runs.map((r) => r.usage[name]).filter((x): x is ProcessUsage => x !== undefined);
    processes[name] = {
      cpuSec: spread(u.map((x) => x.cpuSec)).median,
      peakRssMB: Math.max(...u.map((x) => x.peakRssMB)),
      meanRssMB: spread(u.map((x) => x.meanRssMB)).median,
    };
  }
  const perCpu = runs.map((r) => r.records / Object.values(r.usage).reduce((s, u) => s + u.cpuSec, 0)).filter(Number.isFinite);
  const latencies = runs.map((r) => r.latency).filter((l): l is Latency => l !== null);
  return {
    ...base,
    runs: runs.length,
    rate: options.rate === false ? null : spread(runs.map((r) => r.rate)),
    latency: latencies.length ? medianLatency(latencies) : null,
    recordsPerCpuSec: perCpu.length ? spread(perCpu).median : null,
    processes,
    perRun: runs,
  };
}

/** The run with the median p99 stands for all (p50/p99/max of one run stay consistent). */
function medianLatency(ls: Latency[]): Latency {
  const sorted = [...ls].sort((a, b) => a.p99 - b.p99);
  return sorted[(sorted.length - 1) >> 1];
}
